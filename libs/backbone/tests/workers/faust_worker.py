"""A stateless Faust worker for the tests, built with the shared app factory and resilient agent.

Env: KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, GROUP, TOPIC, DATA_DIR, PER_PARTITION (1: lanes).
Each event's effect and inbox row commit in one transaction; a value of b"poison" always raises.
Run: python faust_worker.py worker --without-web
"""

from __future__ import annotations

import os

from sqlalchemy import text

from backbone.db.engine import make_engine, session_factory
from backbone.db.inbox import claim
from backbone.faust import create_faust_app, resilient_agent
from backbone.kafka import Message, Producer
from backbone.logging import configure_logging
from backbone.settings import DatabaseSettings, KafkaSettings, RetrySettings

configure_logging("faust-test-worker")
kafka = KafkaSettings(session_timeout_ms=3000, heartbeat_interval_ms=500)
group = os.environ["GROUP"]
app = create_faust_app(group, kafka, datadir=os.environ["DATA_DIR"])
engine = make_engine(DatabaseSettings())
sessions = session_factory(engine)


async def handle(message: Message) -> None:
    if message.value == b"poison":
        raise RuntimeError("poison event")
    event_id = message.header("event-id") or ""
    async with sessions() as session, session.begin():
        await session.execute(
            text("INSERT INTO deliveries (event_id) VALUES (:e)"), {"e": event_id}
        )
        if await claim(session, group, event_id):
            await session.execute(
                text("INSERT INTO effects (event_id, applied) VALUES (:e, 1)"), {"e": event_id}
            )


resilient_agent(
    app,
    handle,
    topics=[os.environ["TOPIC"], f"{group}.retry"],
    producer=Producer(kafka),
    retry=RetrySettings(max_attempts=3, backoff_initial_s=0.01),
    per_partition=os.environ.get("PER_PARTITION") == "1",
)

if __name__ == "__main__":
    app.main()
