"""`python -m reservation api|worker|relay|migrate|reconcile`: one command per process, each the
module of its name under reservation.entrypoints (backbone.cli)."""

from __future__ import annotations

import sys

from backbone.cli import dispatch

COMMANDS = {
    "api": "the HTTP API (RESERVATION_HOST:RESERVATION_PORT, default :8002)",
    "worker": "[faust options]  the payment worker (Faust); e.g. `worker --without-web`",
    "relay": "the outbox relay to reservation.events",
    "migrate": "[--seed]  apply the database migrations (and the dev catalog seed)",
    "reconcile": "--since 24h [--dry-run]  compare Stripe with our states, republish what is\n"
    "missing",
}


def main(argv: list[str] | None = None) -> int:
    """Run the command named on the command line."""
    return dispatch("reservation", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
