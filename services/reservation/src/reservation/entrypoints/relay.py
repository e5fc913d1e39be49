"""`python -m reservation relay`: publishes the outbox to reservation.events, each row once."""

from __future__ import annotations

import asyncio

from backbone.db.engine import make_engine
from backbone.db.relay import OutboxRelay
from backbone.db.supervision import serve_until_signalled
from backbone.kafka import Producer
from backbone.kafka.admin import ensure_topics
from backbone.logging import configure_logging
from reservation.bootstrap import prepare_database
from reservation.settings import Settings, get_settings

SOURCE = "reservation"


async def run(settings: Settings) -> None:
    """Relay until SIGINT or SIGTERM (one relay is active at a time; others wait their turn)."""
    await ensure_topics(settings.kafka)
    engine = make_engine(settings.database, application_name="reservation-relay")
    producer = Producer(settings.kafka, client_id="reservation-relay")
    relay = OutboxRelay(engine, producer, settings.kafka, source=SOURCE)
    await serve_until_signalled(relay, producer, engine)


def main(argv: list[str]) -> int:
    """Entry point."""
    settings = get_settings()
    configure_logging("reservation-relay", settings.log)
    prepare_database(settings)
    asyncio.run(run(settings))
    return 0
