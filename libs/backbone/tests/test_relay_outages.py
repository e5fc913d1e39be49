"""The relay waits out a PostgreSQL outage and resumes; its supervisor restarts it if it dies; the
backlog is measured. A PostgreSQL server of the test's own, really stopped and started."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from backbone import readiness
from backbone.db import OutboxMonitor, OutboxRelay, make_engine, supervise
from backbone.kafka import Producer, ensure_topics
from backbone.settings import DatabaseSettings, KafkaSettings, RetrySettings
from contracts import headers as h
from devstack.postgres import EmbeddedPostgres, ensure_database
from devstack.testing import eventually, read_topic

from .support import create_schema
from .test_outbox import _unsent, _write

pytestmark = pytest.mark.integration

FAST = RetrySettings(transient_backoff_initial_s=0.1, transient_backoff_max_s=0.5)


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres.temporary().start()
    yield server
    server.stop()


@pytest.fixture
async def engine(own_postgres: EmbeddedPostgres, unique: str) -> AsyncIterator[AsyncEngine]:
    url = ensure_database(own_postgres.url, f"relay_{unique}")
    create_schema(url)
    engine = make_engine(DatabaseSettings(url=SecretStr(url), pool_timeout_s=2))
    yield engine
    await engine.dispose()


class _CrashesOnce(OutboxRelay):
    """A relay with a bug that strikes on its first run only."""

    crashed = False

    async def run(self) -> None:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("a bug nobody classified")
        await super().run()


async def test_relay_waits_out_a_stopped_database_and_resumes(
    engine: AsyncEngine,
    own_postgres: EmbeddedPostgres,
    kafka_settings: KafkaSettings,
    unique: str,
) -> None:
    topic, source = f"relay-out-{unique}", f"src-{unique}"
    await ensure_topics(kafka_settings, {topic: 1})
    producer = Producer(kafka_settings)
    relay = OutboxRelay(engine, producer, kafka_settings, source=source, retry=FAST)
    task = asyncio.create_task(supervise(relay, engine, monitor_interval_s=0.2))
    try:
        await _write(engine, topic, 2)
        await eventually(lambda: _count(kafka_settings, topic, 2), timeout=30, what="first rows")
        await asyncio.to_thread(own_postgres.halt)

        async def waiting() -> list[str]:
            return [p for p in readiness.problems() if f"relay:{source} waits for postgresql" in p]

        await eventually(waiting, timeout=30, what="the relay waiting for PostgreSQL")
        await asyncio.to_thread(own_postgres.start)
        await _write(engine, topic, 3)
        await eventually(lambda: _count(kafka_settings, topic, 5), timeout=60, what="after")
        assert not task.done()  # it never died
        assert await _unsent(engine) == 0
    finally:
        relay.stop()
        await asyncio.wait_for(task, timeout=30)
        await producer.stop()
    ids = [m.header(h.OUTBOX_ID) for m in await read_topic(kafka_settings, topic)]
    assert len(ids) == len(set(ids)) == 5  # nothing doubled across the lost lock


async def test_a_relay_that_dies_is_restarted_and_the_backlog_is_measured(
    engine: AsyncEngine, kafka_settings: KafkaSettings, unique: str
) -> None:
    topic, source = f"relay-crash-{unique}", f"crash-{unique}"
    await ensure_topics(kafka_settings, {topic: 1})
    await _write(engine, topic, 4)
    monitor = OutboxMonitor(engine, source)
    await monitor.refresh()
    assert REGISTRY.get_sample_value("outbox_unsent_rows", {"service": source}) == 4
    age = REGISTRY.get_sample_value("outbox_oldest_unsent_age_seconds", {"service": source})
    assert age is not None
    assert age >= 0

    producer = Producer(kafka_settings)
    relay = _CrashesOnce(engine, producer, kafka_settings, source=source)
    task = asyncio.create_task(supervise(relay, engine, restart_initial_s=1.0))
    try:

        async def restarting() -> list[str]:
            return [p for p in readiness.problems() if f"relay:{source} waits for restart" in p]

        await eventually(restarting, timeout=10, what="readiness showing the restart")
        await eventually(lambda: _count(kafka_settings, topic, 4), timeout=60, what="published")
    finally:
        relay.stop()
        await asyncio.wait_for(task, timeout=30)
        await producer.stop()
    assert REGISTRY.get_sample_value("outbox_relay_restarts_total", {"service": source}) == 1
    await monitor.refresh()
    assert REGISTRY.get_sample_value("outbox_unsent_rows", {"service": source}) == 0
    assert monitor.oldest_age_s() == 0.0


async def _count(kafka_settings: KafkaSettings, topic: str, n: int) -> bool:
    return len(await read_topic(kafka_settings, topic)) >= n
