"""`python -m notifier <command>`: worker (Faust, health and metrics on 8003) or migrate."""

from __future__ import annotations

import argparse
import sys

USAGE = """\
python -m notifier worker [FAUST WORKER OPTIONS, e.g. -l info]
    consume reservation facts and send e-mails; serves /healthz /readyz /metrics on
    NOTIFIER_HTTP_PORT (8003); migrates first when NOTIFIER_AUTO_MIGRATE=true
python -m notifier migrate [--revision head]
    apply the Alembic migrations to DATABASE_URL
python -m notifier makemigration MESSAGE
    autogenerate a revision from the SQLModel tables (developers)
"""


def main(argv: list[str] | None = None) -> None:
    """Dispatch the command line."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help", "help"}:
        print(USAGE)
        return
    command, rest = args[0], args[1:]
    if command == "worker":
        from notifier.entrypoints.worker import run

        run(rest)
    elif command in {"migrate", "makemigration"}:
        from backbone.logging import configure_logging
        from backbone.settings import DatabaseSettings
        from notifier.adapters.migrate import revision, upgrade

        configure_logging("notifier-migrate")
        if command == "migrate":
            parser = argparse.ArgumentParser(prog="python -m notifier migrate")
            parser.add_argument("--revision", default="head")
            upgrade(DatabaseSettings(), parser.parse_args(rest).revision)
        else:
            revision(DatabaseSettings(), " ".join(rest) or "change")
    else:
        print(USAGE, file=sys.stderr)
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
