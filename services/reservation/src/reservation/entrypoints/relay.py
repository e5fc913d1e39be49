"""`python -m reservation relay`: publishes the outbox to reservation.events, each row once."""

from __future__ import annotations

import asyncio

from backbone import cli
from backbone.db import serve_until_signalled
from backbone.kafka import ensure_topics
from backbone.logging import configure_logging
from reservation.bootstrap import build, prepare_database
from reservation.settings import Settings, get_settings


async def run(settings: Settings) -> None:
    """Relay until SIGINT or SIGTERM (one relay is active at a time; others wait their turn)."""
    await ensure_topics(settings.kafka)
    container = build(settings, application_name="reservation-relay")
    relay, producer = container.relay()
    await serve_until_signalled(relay, producer, container.engine)


def main(argv: list[str]) -> int:
    """Entry point."""
    cli.parser("reservation", "relay", __doc__).parse_args(argv)
    settings = get_settings()
    configure_logging("reservation-relay", settings.log)
    prepare_database(settings)
    asyncio.run(run(settings))
    return 0
