"""A stateless Faust worker for the tests, built with the shared app factory and resilient agent.

Env: KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, GROUP, TOPIC, DATA_DIR, MODE (sequential,
per-partition: lanes, batched: one transaction per batch). Each event's effect and inbox row
commit in one transaction (with the rest of its batch when batched); a value of b"poison" always
raises (failing its whole batch).
Run: python faust_worker.py worker --without-web
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

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


mode = os.environ.get("MODE", "sequential")


async def apply(session: AsyncSession, message: Message) -> None:
    if message.value == b"poison":
        raise RuntimeError("poison event")
    event_id = message.header("event-id") or ""
    await session.execute(text("INSERT INTO deliveries (event_id) VALUES (:e)"), {"e": event_id})
    if await claim(session, group, event_id):
        await session.execute(
            text("INSERT INTO effects (event_id, applied) VALUES (:e, 1)"), {"e": event_id}
        )


async def handle(message: Message) -> None:
    async with sessions() as session, session.begin():
        await apply(session, message)


async def handle_batch(messages: Sequence[Message]) -> None:
    async with sessions() as session, session.begin():
        for message in messages:
            await apply(session, message)


resilient_agent(
    app,
    handle,
    topics=[os.environ["TOPIC"], f"{group}.retry"],
    producer=Producer(kafka),
    retry=RetrySettings(max_attempts=3, backoff_initial_s=0.01),
    per_partition=mode == "per-partition",
    batch_handler=handle_batch if mode == "batched" else None,
)

if __name__ == "__main__":
    app.main()
