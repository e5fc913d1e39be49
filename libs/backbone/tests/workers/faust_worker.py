"""A stateless Faust worker for the tests, built with the shared app factory and resilient agent.

Env: KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, GROUP, TOPIC, DATA_DIR, MODE (batched: what waits is
handled as one batch, one transaction; one-at-a-time: batches of one). Each event's delivery,
inbox row and effect commit in one transaction with the rest of its batch; a value of b"poison"
always raises (failing its whole batch). An effect applied twice would count `applied` up, never
fail. CRASH_MARKER (a path): when set and the file does not exist yet, the worker creates it and
SIGKILLs itself right after a batch's database commit, before Faust can commit the offsets.
Run: python faust_worker.py worker --without-web
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import text

from backbone.db import claim, make_engine, session_factory
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
mode = os.environ.get("MODE", "batched")
marker = os.environ.get("CRASH_MARKER")


async def handle(messages: Sequence[Message]) -> None:
    async with sessions() as session, session.begin():
        for message in messages:
            if message.value == b"poison":
                raise RuntimeError("poison event")
            event_id = message.header("event-id") or ""
            await session.execute(
                text("INSERT INTO deliveries (event_id) VALUES (:e)"), {"e": event_id}
            )
            if await claim(session, group, event_id):
                await session.execute(
                    text(
                        "INSERT INTO effects (event_id, applied) VALUES (:e, 1)"
                        " ON CONFLICT (event_id) DO UPDATE SET applied = effects.applied + 1"
                    ),
                    {"e": event_id},
                )
    if marker and not Path(marker).exists():
        Path(marker).write_text("crashed after the database commit, before the offset commit")
        os.kill(os.getpid(), signal.SIGKILL)


resilient_agent(
    app,
    handle,
    topics=[os.environ["TOPIC"], f"{group}.retry"],
    producer=Producer(kafka),
    retry=RetrySettings(max_attempts=3, backoff_initial_s=0.01),
    batch_max_size=1 if mode == "one-at-a-time" else 200,
)

if __name__ == "__main__":
    app.main()
