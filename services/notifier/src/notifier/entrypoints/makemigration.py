"""`python -m notifier makemigration MESSAGE`: autogenerate a revision from the SQLModel tables."""

from __future__ import annotations

from backbone.logging import configure_logging
from notifier.adapters.migrate import revision
from notifier.settings import get_settings


def main(argv: list[str]) -> int:
    """Write a new revision named by `argv` (developers)."""
    settings = get_settings()
    configure_logging("notifier-migrate", settings.log)
    revision(settings.database, " ".join(argv) or "change")
    return 0
