"""A consumer for the crash test: handles, commits to PostgreSQL, may die before the offset commit.

Env: KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, GROUP, TOPIC; CRASH_MARKER (a path): when set and the
file does not exist yet, the process creates it and SIGKILLs itself right after the handler's
database commit, so the broker never sees the offset commit.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from sqlalchemy import text

from backbone.db.engine import make_engine, session_factory
from backbone.db.inbox import claim
from backbone.kafka import Message
from backbone.kafka.runner import ConsumerRunner
from backbone.logging import configure_logging
from backbone.settings import DatabaseSettings, KafkaSettings, RetrySettings


async def main() -> None:
    configure_logging("inbox-consumer")
    engine = make_engine(DatabaseSettings())
    sessions = session_factory(engine)
    group = os.environ["GROUP"]
    marker = os.environ.get("CRASH_MARKER")

    async def handler(message: Message) -> None:
        event_id = message.header("event-id") or ""
        async with sessions() as session, session.begin():
            await session.execute(
                text("INSERT INTO deliveries (event_id) VALUES (:e)"), {"e": event_id}
            )
        async with sessions() as session, session.begin():
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

    runner = ConsumerRunner(
        group,
        [os.environ["TOPIC"]],
        handler,
        kafka=KafkaSettings(session_timeout_ms=3000, heartbeat_interval_ms=500),
        retry=RetrySettings(max_attempts=3, backoff_initial_s=0.01),
    )
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, runner.stop)
    await runner.run()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
