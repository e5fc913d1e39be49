"""`python -m checkout api|relay|migrate`: one command per process, each the module of its name
under checkout.entrypoints (backbone.cli)."""

from __future__ import annotations

import sys

from backbone.cli import dispatch

COMMANDS = {
    "api": "the HTTP API and the payment page (CHECKOUT_PORT, default 8000); migrates first in"
    " development",
    "relay": "publishes the outbox (CheckoutSessionCreatedV1) to Kafka",
    "migrate": "apply the database migrations; seeds the dev beats in development",
}


def main(argv: list[str] | None = None) -> int:
    """Run the command named on the command line."""
    return dispatch("checkout", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
