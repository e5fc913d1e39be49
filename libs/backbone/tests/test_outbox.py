"""The outbox and its relay on real PostgreSQL and a real broker: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backbone.db import (
    OutboxRecord,
    OutboxRelay,
    add_all,
    enqueue,
    make_engine,
    requeue_since,
    session_factory,
)
from backbone.kafka import Producer, ensure_topics
from backbone.settings import DatabaseSettings, KafkaSettings
from contracts import headers as h
from devstack.broker import EmbeddedBroker
from devstack.testing import ChildProcess, eventually, read_topic

from .support import create_schema

pytestmark = pytest.mark.integration

WORKER = Path(__file__).parent / "workers" / "relay.py"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    create_schema(database_url)
    engine = make_engine(DatabaseSettings(url=SecretStr(database_url)))
    yield engine
    await engine.dispose()


async def _write(engine: AsyncEngine, topic: str, n: int, *, commit: bool = True) -> None:
    sessions = session_factory(engine)
    async with sessions() as session:
        for i in range(n):
            enqueue(
                session,
                topic,
                f'{{"n": {i}}}'.encode(),
                key=f"k{i}".encode(),
                headers=[(h.EVENT_ID, f"e{i}")],
            )
        if commit:
            await session.commit()
        else:
            await session.flush()  # the row really reaches the table, then the rollback
            await session.rollback()


async def _unsent(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")))


async def _relay_until_drained(
    engine: AsyncEngine, kafka_settings: KafkaSettings, unique: str
) -> None:
    """Run a relay (source `test-<unique>`) in this process until no row is unsent."""
    producer = Producer(kafka_settings)
    relay = OutboxRelay(engine, producer, kafka_settings, source=f"test-{unique}")
    task = asyncio.create_task(relay.run())
    try:

        async def drained() -> bool:
            return await _unsent(engine) == 0

        await eventually(drained, what="outbox drained")
    finally:
        relay.stop()
        await task
        await producer.stop()


async def test_rolled_back_row_never_reaches_kafka_and_committed_one_does_once(
    engine: AsyncEngine, kafka_settings: KafkaSettings, unique: str
) -> None:
    topic = f"facts-{unique}"
    await ensure_topics(kafka_settings, {topic: 3})
    await _write(engine, topic, 1, commit=False)
    await _write(engine, topic, 1, commit=True)
    await _relay_until_drained(engine, kafka_settings, unique)

    records = await read_topic(kafka_settings, topic)
    assert [(r.key, r.value) for r in records] == [(b"k0", b'{"n": 0}')]
    assert records[0].header(h.EVENT_ID) == "e0"
    assert (records[0].header(h.OUTBOX_ID) or "").startswith(f"test-{unique}/2@")


async def test_rows_published_before_a_crash_are_recognised_not_sent_again(
    engine: AsyncEngine, kafka_settings: KafkaSettings, unique: str
) -> None:
    """The relay died after the broker acknowledged a batch and before it marked the rows sent."""
    topic = f"facts-{unique}"
    await ensure_topics(kafka_settings, {topic: 3})
    await _write(engine, topic, 5)
    producer = Producer(kafka_settings)
    dead = OutboxRelay(engine, producer, kafka_settings, source=f"test-{unique}")
    async with engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT id, created_at, key, value FROM outbox ORDER BY id"))
        ).all()
    for row_id, created_at, key, value in rows[:3]:  # what the dead relay got acknowledged
        await producer.send(
            topic,
            value,
            key=key,
            headers=[(h.OUTBOX_ID, dead.outbox_id(row_id, created_at).encode())],
        )

    relay = OutboxRelay(engine, producer, kafka_settings, source=f"test-{unique}")
    assert await relay.reconcile() == 3
    assert await relay.publish_batch() == 2
    await producer.stop()

    ids = Counter(r.header(h.OUTBOX_ID) for r in await read_topic(kafka_settings, topic))
    assert ids == Counter(relay.outbox_id(row_id, created_at) for row_id, created_at, _, _ in rows)


@pytest.mark.slow
async def test_relay_killed_and_restarted_publishes_every_row_exactly_once(
    engine: AsyncEngine,
    kafka_settings: KafkaSettings,
    unique: str,
    database_url: str,
    tmp_path: Path,
) -> None:
    topic = f"facts-{unique}"
    await ensure_topics(kafka_settings, {topic: 3})
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "DATABASE_URL": database_url,
        "SOURCE": f"test-{unique}",
    }
    rng = random.Random(unique)
    total, kills = 0, 0
    for round_no in range(4):
        relay = ChildProcess([str(WORKER)], env=env, log_path=tmp_path / f"relay{round_no}.log")
        relay.start()
        for _ in range(10):
            await _write(engine, topic, 25)
            total += 25
            await asyncio.sleep(rng.uniform(0, 0.05))  # let the relay interleave with writers
        relay.kill()
        kills += 1
    final = ChildProcess([str(WORKER)], env=env, log_path=tmp_path / "final.log").start()
    try:

        async def drained() -> bool:
            return await _unsent(engine) == 0

        await eventually(drained, timeout=60, what="outbox drained after the kills")
    finally:
        final.terminate()

    ids = Counter(r.header(h.OUTBOX_ID) for r in await read_topic(kafka_settings, topic))
    assert len(ids) == total, f"{total - len(ids)} rows missing after {kills} kills"
    assert max(ids.values()) == 1, [k for k, c in ids.items() if c > 1]


async def test_a_recreated_database_is_not_mistaken_for_rows_already_published(
    engine: AsyncEngine,
    kafka_settings: KafkaSettings,
    unique: str,
    make_database: Callable[[str], str],
) -> None:
    """Ids start again at 1 in a new database; its row 1 is not the old row 1 on the topic."""
    topic = f"facts-{unique}"
    await ensure_topics(kafka_settings, {topic: 1})
    producer = Producer(kafka_settings)
    await _write(engine, topic, 1)
    first = OutboxRelay(engine, producer, kafka_settings, source=f"test-{unique}")
    assert await first.publish_batch() == 1

    recreated_url = make_database("recreated")
    create_schema(recreated_url)
    recreated = make_engine(DatabaseSettings(url=SecretStr(recreated_url)))
    try:
        await _write(recreated, topic, 1)
        relay = OutboxRelay(recreated, producer, kafka_settings, source=f"test-{unique}")
        assert await relay.reconcile() == 0
        assert await relay.publish_batch() == 1
    finally:
        await recreated.dispose()
        await producer.stop()
    ids = [r.header(h.OUTBOX_ID) for r in await read_topic(kafka_settings, topic)]
    assert len(ids) == 2
    assert len(set(ids)) == 2


@pytest.mark.slow
async def test_rows_a_restarted_broker_lost_go_out_again_after_a_requeue(
    engine: AsyncEngine, unique: str
) -> None:
    """The embedded broker forgets everything on restart: requeued rows are published again,
    while rows still on their topic are recognised and not doubled."""
    broker = EmbeddedBroker().start()
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, send_timeout_s=3.0)
    producer = Producer(settings)
    topic = f"facts-{unique}"
    try:
        await ensure_topics(settings, {topic: 2})
        before = datetime.now(UTC)
        await _write(engine, topic, 3)
        relay = OutboxRelay(engine, producer, settings, source=f"test-{unique}")
        assert await relay.publish_batch() == 3

        assert await requeue_since(engine, before) == 3
        assert await relay.reconcile() == 3  # still on the topic: nothing goes out twice
        assert await relay.publish_batch() == 0

        broker.kill()
        broker.start()
        await ensure_topics(settings, {topic: 2})
        assert await requeue_since(engine, before, dry_run=True) == 3
        assert await requeue_since(engine, before, topic="another-topic") == 0
        assert await requeue_since(engine, before, topic=topic) == 3
        assert await relay.reconcile() == 0
        assert await relay.publish_batch() == 3
        ids = Counter(r.header(h.OUTBOX_ID) for r in await read_topic(settings, topic))
        assert len(ids) == 3
        assert set(ids.values()) == {1}
    finally:
        await producer.stop()
        broker.stop()


async def test_requeue_command_counts_and_refuses_a_bad_time(
    engine: AsyncEngine, kafka_settings: KafkaSettings, unique: str, database_url: str
) -> None:
    topic = f"facts-{unique}"
    await ensure_topics(kafka_settings, {topic: 1})
    await _write(engine, topic, 2)
    producer = Producer(kafka_settings)
    try:
        assert (
            await OutboxRelay(engine, producer, kafka_settings, source=unique).publish_batch() == 2
        )
    finally:
        await producer.stop()
    command = [sys.executable, "-m", "backbone.db.requeue"]
    env = {**os.environ, "DATABASE_URL": database_url}
    dry = subprocess.run(
        [*command, "--since", "1h", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert dry.returncode == 0, dry.stderr
    assert "2 outbox rows would go out again" in dry.stdout
    assert await _unsent(engine) == 0
    bad = subprocess.run(
        [*command, "--since", "yesterday-ish"], env=env, capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2
    assert "cannot read time" in bad.stderr


async def test_add_all_inserts_in_order_and_relays_what_it_was_given(
    engine: AsyncEngine, kafka_settings: KafkaSettings, unique: str
) -> None:
    topic = f"outbox-many-{unique}"
    await ensure_topics(kafka_settings, {topic: 1})
    records = [
        OutboxRecord(
            topic,
            f"v{i}".encode(),
            key=f"k{i}".encode() if i % 2 else None,
            headers=[(h.EVENT_ID, f"e{i}"), ("empty", "")],
        )
        for i in range(300)
    ]
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        await add_all(session, records[:1])
        await add_all(session, records[1:])
        await add_all(session, [])
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT value FROM outbox ORDER BY id"))).scalars().all()
    assert rows == [r.value for r in records]
    await _relay_until_drained(engine, kafka_settings, unique)
    got = await read_topic(kafka_settings, topic)
    assert [(m.key, m.value, m.header(h.EVENT_ID), m.header("empty")) for m in got] == [
        (r.key, r.value, f"e{i}", "") for i, r in enumerate(records)
    ]
