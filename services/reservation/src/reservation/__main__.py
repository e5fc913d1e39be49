"""`python -m reservation api|worker|relay|migrate|reconcile`: one command per process."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

USAGE = """usage: python -m reservation <command> [options]

  api                        the HTTP API (RESERVATION_HOST:RESERVATION_PORT, default :8002)
  worker [faust options]     the payment worker (Faust); e.g. `worker --without-web`
  relay                      the outbox relay to reservation.events
  migrate                    apply the database migrations (and the dev catalog seed)
  reconcile --since 24h [--dry-run]   compare Stripe with our states, republish what is missing
"""

COMMANDS = {
    "api": "reservation.entrypoints.serve",
    "worker": "reservation.entrypoints.worker",
    "relay": "reservation.entrypoints.relay",
    "migrate": "reservation.entrypoints.migrate",
    "reconcile": "reservation.entrypoints.reconcile",
}


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the entrypoint module of the command (imported lazily: each is heavy)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    module = COMMANDS.get(command)
    if module is None:
        print(USAGE, file=sys.stderr)
        return 2
    run: Callable[[list[str]], int] = importlib.import_module(module).main
    return run(rest)


if __name__ == "__main__":
    sys.exit(main())
