"""Pruning on real PostgreSQL: inbox and sent outbox rows past the retention go, in batches;
recent rows and unsent outbox rows stay; the outbox relay prunes while it runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backbone.db import INBOX, SENT_OUTBOX, OutboxRelay, Pruner, PruneSettings, make_engine
from backbone.kafka import Producer, ensure_topics
from backbone.settings import DatabaseSettings, KafkaSettings
from devstack.testing import eventually

from .support import create_schema

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    create_schema(database_url)
    engine = make_engine(DatabaseSettings(url=SecretStr(database_url)))
    yield engine
    await engine.dispose()


async def _inbox(engine: AsyncEngine, rows: dict[str, datetime]) -> None:
    async with engine.begin() as conn:
        for event_id, at in rows.items():
            await conn.execute(
                text("INSERT INTO inbox (consumer, event_id, processed_at) VALUES ('c', :e, :at)"),
                {"e": event_id, "at": at},
            )


async def _outbox(engine: AsyncEngine, topic: str, rows: dict[str, datetime | None]) -> None:
    """One row per key: created 60 days ago, sent at the time given (None: unsent)."""
    async with engine.begin() as conn:
        for key, sent_at in rows.items():
            await conn.execute(
                text(
                    "INSERT INTO outbox (topic, key, value, created_at, sent_at)"
                    " VALUES (:t, :k, '{}', :created, :sent)"
                ),
                {"t": topic, "k": key.encode(), "created": days_ago(60), "sent": sent_at},
            )


async def _keys(engine: AsyncEngine, sql: str) -> set[str]:
    async with engine.connect() as conn:
        rows = (await conn.execute(text(sql))).scalars().all()
    return {r.decode() if isinstance(r, bytes) else str(r) for r in rows}


def test_retention_must_outlive_stripes_thirty_days_of_retries() -> None:
    assert PruneSettings().retention_days == 45
    with pytest.raises(ValidationError):
        PruneSettings(retention_days=30)


async def test_old_rows_go_in_batches_recent_and_unsent_ones_stay(engine: AsyncEngine) -> None:
    old_inbox = {f"old-{i}": days_ago(60 + i) for i in range(5)} | {"just-past": days_ago(46)}
    await _inbox(engine, old_inbox | {"recent": days_ago(1), "just-within": days_ago(44)})
    outbox: dict[str, datetime | None] = {f"sent-{i}": days_ago(50 + i) for i in range(5)}
    await _outbox(engine, "t", outbox | {"unsent-old": None, "sent-recent": days_ago(2)})
    pruner = Pruner(engine, [INBOX, SENT_OUTBOX], PruneSettings(batch_size=2))

    deleted = await pruner.run()

    assert deleted == {"inbox": 6, "outbox": 5}
    assert await _keys(engine, "SELECT event_id FROM inbox") == {"recent", "just-within"}
    assert await _keys(engine, "SELECT key FROM outbox") == {"unsent-old", "sent-recent"}
    assert await pruner.run() == {"inbox": 0, "outbox": 0}


async def test_a_periodic_job_prunes_at_most_once_per_interval(engine: AsyncEngine) -> None:
    now = [1000.0]
    pruner = Pruner(engine, [INBOX], PruneSettings(interval_s=600), clock=lambda: now[0])
    await _inbox(engine, {"first": days_ago(50)})
    assert await pruner.maybe_run() == {"inbox": 1}  # the first call prunes at once

    await _inbox(engine, {"second": days_ago(50)})
    now[0] += 599
    assert await pruner.maybe_run() is None
    assert await _keys(engine, "SELECT event_id FROM inbox") == {"second"}
    now[0] += 1
    assert await pruner.maybe_run() == {"inbox": 1}


async def test_a_failing_prune_does_not_raise_into_the_job(database_url: str) -> None:
    engine = make_engine(DatabaseSettings(url=SecretStr(database_url)))  # no tables at all
    try:
        assert await Pruner(engine, [INBOX]).maybe_run() is None
    finally:
        await engine.dispose()


async def test_the_relay_prunes_sent_rows_and_publishes_the_rest(
    engine: AsyncEngine, kafka_settings: KafkaSettings, unique: str
) -> None:
    topic = f"prune-{unique}"
    await ensure_topics(kafka_settings, {topic: 1})
    await _outbox(engine, topic, {"sent-old": days_ago(50), "sent-recent": days_ago(3)})
    await _outbox(engine, topic, {"new": None})
    producer = Producer(kafka_settings)
    relay = OutboxRelay(engine, producer, kafka_settings, source=f"prune-{unique}")
    task = asyncio.create_task(relay.run())
    try:

        async def pruned_and_sent() -> bool:
            left = await _keys(engine, "SELECT key FROM outbox")
            unsent = await _keys(engine, "SELECT key FROM outbox WHERE sent_at IS NULL")
            return left == {"sent-recent", "new"} and not unsent

        await eventually(pruned_and_sent, what="old sent row pruned, new row sent", timeout=30)
    finally:
        relay.stop()
        await task
        await producer.stop()
