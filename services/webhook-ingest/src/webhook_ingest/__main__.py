"""`python -m webhook_ingest [api]`: one command, the module of its name under
webhook_ingest.entrypoints (backbone.cli); without a command, `api`."""

from __future__ import annotations

import sys

from backbone.cli import dispatch
from webhook_ingest.entrypoints.api import server_options

__all__ = ["main", "server_options"]  # server_options: the benchmark's no-op app imports it here

COMMANDS = {"api": "the webhook endpoint (WEBHOOK_INGEST_HOST:WEBHOOK_INGEST_PORT, default :8001)"}


def main(argv: list[str] | None = None) -> int:
    """Run the command named on the command line (`api` when none is)."""
    return dispatch("webhook_ingest", COMMANDS, argv, default="api")


if __name__ == "__main__":
    sys.exit(main())
