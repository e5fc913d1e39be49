"""`python -m notifier migrate [--revision head]`: apply the Alembic migrations to DATABASE_URL."""

from __future__ import annotations

from backbone import cli
from backbone.logging import configure_logging
from notifier.adapters.migrate import upgrade
from notifier.settings import get_settings


def main(argv: list[str]) -> int:
    """Upgrade to the revision asked for (head by default)."""
    options = cli.parser("notifier", "migrate", __doc__)
    options.add_argument("--revision", default="head")
    args = options.parse_args(argv)
    settings = get_settings()
    configure_logging("notifier-migrate", settings.log)
    upgrade(settings.database, args.revision)
    return 0
