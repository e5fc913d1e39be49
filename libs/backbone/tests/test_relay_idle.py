"""The relay at rest (issue 20's idle cost): it backs off when the outbox stays empty, is back
to its short pause as soon as a row comes, and `wake()` ends a long pause at once."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from backbone.db import OutboxRelay, enqueue, make_engine, session_factory
from backbone.kafka import Producer, ensure_topics
from backbone.settings import DatabaseSettings, KafkaSettings
from devstack.testing import eventually, read_topic

from .support import create_schema

pytestmark = pytest.mark.integration


class CountingRelay(OutboxRelay):
    """Records when it polls (each call of `publish_batch`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.polled: list[float] = []

    async def publish_batch(self) -> int:
        self.polled.append(time.monotonic())
        return await super().publish_batch()

    def gaps(self, last: int) -> list[float]:
        """The pauses between the last `last` + 1 polls."""
        times = self.polled[-(last + 1) :]
        return [b - a for a, b in itertools.pairwise(times)]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    create_schema(database_url)
    engine = make_engine(DatabaseSettings(url=SecretStr(database_url)))
    yield engine
    await engine.dispose()


async def _write(engine: AsyncEngine, topic: str, value: bytes) -> None:
    async with session_factory(engine)() as session:
        enqueue(session, topic, value, key=b"k")
        await session.commit()


async def test_idle_relay_backs_off_and_a_row_still_goes_out(
    engine: AsyncEngine, kafka_settings: KafkaSettings, unique: str
) -> None:
    topic = f"facts-{unique}"
    await ensure_topics(kafka_settings, {topic: 1})
    producer = Producer(kafka_settings)
    relay = CountingRelay(
        engine,
        producer,
        kafka_settings,
        source=f"idle-{unique}",
        idle_interval_s=0.01,
        idle_after_s=0.2,
        idle_max_interval_s=0.4,
    )
    task = asyncio.create_task(relay.run())
    try:
        # Idle past 0.2 s, the pause doubles from 10 ms up to 400 ms, and stays there.
        async def backed_off() -> bool:
            gaps = relay.gaps(3)
            return len(gaps) == 3 and all(gap >= 0.35 for gap in gaps)

        await eventually(backed_off, timeout=15, what=lambda: f"backed off: {relay.gaps(5)}")
        assert all(gap < 2.0 for gap in relay.gaps(3)), relay.gaps(3)  # capped, not stopped

        await _write(engine, topic, b"after-idle")

        async def on_topic() -> bool:
            return [r.value for r in await read_topic(kafka_settings, topic)] == [b"after-idle"]

        await eventually(on_topic, timeout=10, what="the row published after the idle spell")
    finally:
        relay.stop()
        await task
        await producer.stop()


async def test_wake_ends_a_long_idle_pause(
    engine: AsyncEngine, kafka_settings: KafkaSettings, unique: str
) -> None:
    topic = f"facts-{unique}"
    await ensure_topics(kafka_settings, {topic: 1})
    producer = Producer(kafka_settings)
    # Backed off to a minute between polls: only wake() can get the row out within the test.
    relay = CountingRelay(
        engine,
        producer,
        kafka_settings,
        source=f"wake-{unique}",
        idle_interval_s=60.0,
        idle_after_s=0.0,
        idle_max_interval_s=60.0,
    )
    task = asyncio.create_task(relay.run())
    try:

        async def polled() -> bool:
            return bool(relay.polled)

        await eventually(polled, what="the first poll")
        await _write(engine, topic, b"woken")
        relay.wake()

        async def on_topic() -> bool:
            return [r.value for r in await read_topic(kafka_settings, topic)] == [b"woken"]

        await eventually(on_topic, timeout=15, what="the row published after wake()")
    finally:
        relay.stop()
        await task
        await producer.stop()
