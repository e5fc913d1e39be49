"""`python -m reservation migrate`: apply migrations (and seed the catalog in development)."""

from __future__ import annotations

from backbone.logging import configure_logging, get_logger
from reservation.adapters import migrations
from reservation.settings import get_settings

log = get_logger(__name__)


def main(argv: list[str]) -> int:
    """Upgrade to head; `--seed` seeds the catalog whatever the environment."""
    settings = get_settings()
    configure_logging("reservation-migrate", settings.log)
    url = settings.database.url.get_secret_value()
    migrations.migrate(url)
    if settings.should_seed or "--seed" in argv:
        migrations.seed_catalog(url)
    log.info("migrations.applied")
    return 0
