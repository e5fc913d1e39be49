"""`python -m checkout migrate`: apply migrations (and seed the dev beats in development)."""

from __future__ import annotations

from backbone import cli
from backbone.logging import configure_logging, get_logger
from checkout.bootstrap import prepare_database
from checkout.settings import get_settings

log = get_logger(__name__)


def main(argv: list[str]) -> int:
    """Upgrade the database to the latest revision."""
    cli.parser("checkout", "migrate", __doc__).parse_args(argv)
    settings = get_settings()
    configure_logging("checkout-migrate", settings.log)
    prepare_database(settings)
    log.info("migrate.done", seeded=settings.should_seed)
    return 0
