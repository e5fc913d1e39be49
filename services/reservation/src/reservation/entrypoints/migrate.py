"""`python -m reservation migrate`: apply migrations (and seed the catalog in development)."""

from __future__ import annotations

from backbone import cli
from backbone.logging import configure_logging, get_logger
from reservation.adapters import migrations
from reservation.settings import get_settings

log = get_logger(__name__)


def main(argv: list[str]) -> int:
    """Upgrade to head; `--seed` seeds the catalog whatever the environment."""
    options = cli.parser("reservation", "migrate", __doc__)
    options.add_argument("--seed", action="store_true", help="seed the catalog in any environment")
    seed = options.parse_args(argv).seed
    settings = get_settings()
    configure_logging("reservation-migrate", settings.log)
    url = settings.database.url.get_secret_value()
    migrations.migrate(url)
    if settings.should_seed or seed:
        migrations.seed_catalog(url)
    log.info("migrations.applied")
    return 0
