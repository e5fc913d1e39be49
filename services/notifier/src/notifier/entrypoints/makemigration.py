"""`python -m notifier makemigration MESSAGE`: autogenerate a revision from the SQLModel tables."""

from __future__ import annotations

from backbone import cli
from backbone.logging import configure_logging
from notifier.adapters.migrate import revision
from notifier.settings import get_settings


def main(argv: list[str]) -> int:
    """Write a new revision named by `argv` (developers)."""
    options = cli.parser("notifier", "makemigration", __doc__)
    options.add_argument("message", nargs="*", help="the revision's message (default: change)")
    message = " ".join(options.parse_args(argv).message)
    settings = get_settings()
    configure_logging("notifier-migrate", settings.log)
    revision(settings.database, message or "change")
    return 0
