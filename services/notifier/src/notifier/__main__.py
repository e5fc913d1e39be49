"""`python -m notifier worker|migrate|makemigration`: one command per process, each the module of
its name under notifier.entrypoints (backbone.cli)."""

from __future__ import annotations

import sys

from backbone.cli import dispatch

COMMANDS = {
    "worker": "[faust worker options, e.g. -l info]  consume reservation facts and send e-mails;\n"
    "serves /healthz /readyz /metrics on NOTIFIER_HTTP_PORT (8003);\n"
    "migrates first when NOTIFIER_AUTO_MIGRATE=true",
    "migrate": "[--revision head]  apply the Alembic migrations to DATABASE_URL",
    "makemigration": "MESSAGE  autogenerate a revision from the SQLModel tables (developers)",
}


def main(argv: list[str] | None = None) -> int:
    """Run the command named on the command line."""
    return dispatch("notifier", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
