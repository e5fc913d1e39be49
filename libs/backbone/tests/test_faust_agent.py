"""Stateless Faust agents on the shared wrapper: dead-lettering, no loss under SIGKILL, and a
database commit redelivered before its offset commit changes nothing, one message at a time and
in batches; each keeps every partition in order; a batch shares one transaction, and a bad event
in it fails alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from backbone.kafka import OutgoingRecord, Producer
from backbone.settings import KafkaSettings
from contracts import headers as h
from contracts.topics import dlq_topic
from devstack.testing import ChildProcess, eventually, wait_for_records

from .support import create_schema, group_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKER = Path(__file__).parent / "workers" / "faust_worker.py"


def _count(database_url: str, sql: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


@pytest.fixture(params=["one-at-a-time", "batched"])
def worker_env(
    request: pytest.FixtureRequest,
    kafka_settings: KafkaSettings,
    database_url: str,
    unique: str,
    tmp_path: Path,
) -> dict[str, str]:
    return _env(request.param, kafka_settings, database_url, unique, tmp_path)


@pytest.fixture
def batched_env(
    kafka_settings: KafkaSettings, database_url: str, unique: str, tmp_path: Path
) -> dict[str, str]:
    return _env("batched", kafka_settings, database_url, unique, tmp_path)


def _env(
    mode: str, kafka_settings: KafkaSettings, database_url: str, unique: str, tmp_path: Path
) -> dict[str, str]:
    create_schema(database_url)
    return {
        "MODE": mode,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "DATABASE_URL": database_url,
        "GROUP": f"fg-{unique}",
        "TOPIC": f"ft-{unique}",
        "DATA_DIR": str(tmp_path / "faust-data"),
    }


def _worker(env: dict[str, str], log: Path) -> ChildProcess:
    return ChildProcess(
        [str(WORKER), "worker", "--without-web", "-l", "warn"], env=env, log_path=log
    )


async def _produce(
    settings: KafkaSettings,
    topic: str,
    values: list[tuple[str, bytes]],
    key: Callable[[str], bytes] = lambda event_id: f"k{event_id}".encode(),
) -> None:
    producer = Producer(settings)
    for start in range(0, len(values), 500):
        await producer.send_many(
            OutgoingRecord(topic, value, key(event_id), [(h.EVENT_ID, event_id.encode())])
            for event_id, value in values[start : start + 500]
        )
    await producer.stop()


async def test_raising_agent_dead_letters_and_later_events_flow(
    kafka_settings: KafkaSettings, worker_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    group, topic = worker_env["GROUP"], worker_env["TOPIC"]
    await group_topics(kafka_settings, group, topic, partitions=1)
    await _produce(kafka_settings, topic, [("e-poison", b"poison"), ("e-after", b"{}")])
    worker = _worker(worker_env, tmp_path / "worker.log").start()
    try:

        async def after_handled() -> bool:
            return (
                _count(database_url, "SELECT count(*) FROM effects WHERE event_id='e-after'") == 1
            )

        await eventually(
            after_handled, timeout=60, what=lambda: f"e-after handled\n{worker.output()}"
        )
        [dead] = await wait_for_records(kafka_settings, dlq_topic(group), 1)
    finally:
        worker.terminate()
    assert dead.value == b"poison"
    assert dead.header(h.EVENT_ID) == "e-poison"
    assert dead.header(h.DLQ_ATTEMPTS) == "3"
    assert dead.header(h.DLQ_ERROR_CLASS) == "builtins.RuntimeError"
    assert dead.header(h.DLQ_CONSUMER_GROUP) == group


async def test_worker_killed_mid_stream_loses_nothing(
    kafka_settings: KafkaSettings, worker_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    group, topic = worker_env["GROUP"], worker_env["TOPIC"]
    await group_topics(kafka_settings, group, topic, partitions=3)
    total = 2000
    await _produce(kafka_settings, topic, [(f"e{i}", b"{}") for i in range(total)])

    first = _worker(worker_env, tmp_path / "first.log").start()

    async def midway() -> bool:
        return _count(database_url, "SELECT count(*) FROM effects") >= total // 4

    await eventually(midway, timeout=90, what=lambda: f"a quarter handled\n{first.output()}")
    first.kill()
    handled_at_kill = _count(database_url, "SELECT count(*) FROM effects")
    assert handled_at_kill < total, "the kill must land mid-stream"

    second = _worker(worker_env, tmp_path / "second.log").start()
    try:

        async def all_handled() -> bool:
            return _count(database_url, "SELECT count(*) FROM effects") == total

        await eventually(
            all_handled, timeout=120, what=lambda: f"every event handled\n{second.output()}"
        )
    finally:
        second.terminate()
    deliveries = _count(database_url, "SELECT count(*) FROM deliveries")
    print(
        f"faust kill test: {handled_at_kill} handled at the kill, {deliveries - total} redelivered"
    )
    assert _count(database_url, "SELECT count(DISTINCT event_id) FROM effects") == total
    assert _count(database_url, "SELECT max(applied) FROM effects") == 1


async def test_each_partition_stays_in_order(
    kafka_settings: KafkaSettings, worker_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    group, topic = worker_env["GROUP"], worker_env["TOPIC"]
    await group_topics(kafka_settings, group, topic, partitions=3)
    keys, per_key = 6, 100
    events = [(f"o{k}-{n:04d}", b"{}") for n in range(per_key) for k in range(keys)]
    await _produce(kafka_settings, topic, events, key=lambda e: e.split("-")[0].encode())
    worker = _worker(worker_env, tmp_path / "worker.log").start()
    try:

        async def all_handled() -> bool:
            return _count(database_url, "SELECT count(*) FROM effects") == len(events)

        await eventually(all_handled, timeout=90, what=lambda: f"all handled\n{worker.output()}")
    finally:
        worker.terminate()
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT event_id FROM deliveries ORDER BY id").fetchall()
    seen: dict[str, list[str]] = {}
    for (event_id,) in rows:
        key, _, seq = event_id.partition("-")
        if seq not in seen.setdefault(key, []):
            seen[key].append(seq)
    assert all(sequence == sorted(sequence) for sequence in seen.values())
    assert sum(len(s) for s in seen.values()) == len(events)


async def test_a_batch_shares_a_transaction_and_a_bad_event_fails_alone(
    kafka_settings: KafkaSettings, batched_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    group, topic = batched_env["GROUP"], batched_env["TOPIC"]
    await group_topics(kafka_settings, group, topic, partitions=1)
    good = [(f"b{i:03d}", b"{}") for i in range(300)]
    # A backlog, so the worker finds batches waiting; the poison sits in the middle of one.
    await _produce(kafka_settings, topic, [*good[:150], ("b-poison", b"poison"), *good[150:]])
    worker = _worker(batched_env, tmp_path / "worker.log").start()
    try:

        async def all_good_handled() -> bool:
            return _count(database_url, "SELECT count(*) FROM effects") == len(good)

        await eventually(
            all_good_handled, timeout=90, what=lambda: f"all handled\n{worker.output()}"
        )
        [dead] = await wait_for_records(kafka_settings, dlq_topic(group), 1)
    finally:
        worker.terminate()
    assert dead.header(h.EVENT_ID) == "b-poison"
    assert dead.header(h.DLQ_ATTEMPTS) == "3"
    transactions = _count(database_url, "SELECT count(DISTINCT txid) FROM effects")
    print(f"batch test: {len(good)} events in {transactions} transactions")
    assert transactions <= len(good) // 4, "a backlog is handled in batches"
    assert _count(database_url, "SELECT count(DISTINCT event_id) FROM effects") == len(good)
