"""The worker as a real process on the real broker: dead-lettering, and a SIGKILL mid-batch."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from backbone.kafka import OutgoingRecord, Producer
from backbone.settings import KafkaSettings
from contracts import headers as h
from contracts import stripe as s
from contracts.reservation import RESERVATION_CONFIRMED_V1
from contracts.topics import RESERVATION_EVENTS, RESERVATION_GROUP, STRIPE_EVENTS, dlq_topic
from devstack.testing import ChildProcess, eventually, read_topic
from reservation.settings import Settings

from ..conftest import checkout_fact, checkout_message, stripe_event, stripe_message

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _env(settings: Settings, group: str) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database.url.get_secret_value(),
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "KAFKA_SESSION_TIMEOUT_MS": "3000",
        "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        # Migrated by the fixture, not at start-up; development, as the emulator is (a
        # production process refuses the emulator's URL: backbone.safety).
        "RESERVATION_ENVIRONMENT": "development",
        "RESERVATION_MIGRATE_ON_START": "false",
        "RESERVATION_SEED_CATALOG": "false",
        "RESERVATION_CONSUMER_GROUP": group,
        "RESERVATION_DATA_DIR": str(settings.data_dir),
        "STRIPE_API_BASE": settings.stripe.api_base,
        "STRIPE_API_KEY": settings.stripe.api_key.get_secret_value(),
        "CONSUMER_MAX_ATTEMPTS": "3",
        "CONSUMER_BACKOFF_INITIAL_S": "0.01",
        "LOG_FORMAT": "json",
    }


def _process(command: str, env: dict[str, str], log: Path, *extra: str) -> ChildProcess:
    return ChildProcess(["-m", "reservation", command, *extra], env=env, log_path=log)


def _count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


async def _produce(kafka: KafkaSettings, records: list[Any]) -> None:
    producer = Producer(kafka)
    try:
        for start in range(0, len(records), 300):
            await producer.send_many(
                OutgoingRecord(m.topic, m.value, m.key, m.headers)
                for m in records[start : start + 300]
            )
    finally:
        await producer.stop()


async def test_poison_event_is_dead_lettered_and_the_stream_goes_on(
    settings: Settings, book: Callable[..., Any], tmp_path: Path, unique: str
) -> None:
    url = settings.database.url.get_secret_value()
    row = await book()
    poison_id = f"evt_poison_{unique}"
    poison = OutgoingRecord(
        STRIPE_EVENTS,
        b"{not json",
        b"cs_poison",
        ((h.STRIPE_EVENT_ID, poison_id.encode()),),
    )
    paid = stripe_message(stripe_event(s.CHECKOUT_SESSION_COMPLETED, f"cs_test_{unique}", [row]))
    created = checkout_message(checkout_fact(f"cs_test_{unique}", [row]))
    await _produce(settings.kafka, [poison, created, paid])
    worker = _process(
        "worker", _env(settings, RESERVATION_GROUP), tmp_path / "worker.log", "--without-web"
    ).start()
    try:
        await eventually(
            lambda: _succeeded(url, row.id),
            timeout=60,
            what=lambda: f"the paid reservation confirmed\n{worker.output()[-3000:]}",
        )

        async def dead_lettered() -> list[Any]:
            records = await read_topic(settings.kafka, dlq_topic(RESERVATION_GROUP))
            return [r for r in records if r.header(h.STRIPE_EVENT_ID) == poison_id]

        [dead] = await eventually(dead_lettered, timeout=30, what="the poison in reservation.dlq")
    finally:
        worker.terminate()
    assert dead.value == b"{not json"
    assert dead.header(h.DLQ_ERROR_CLASS) == "backbone.kafka.retry.PermanentError"
    assert dead.header(h.DLQ_CONSUMER_GROUP) == RESERVATION_GROUP


async def _succeeded(url: str, reservation_id: str) -> bool:
    return (
        _count(
            url,
            "SELECT count(*) FROM reservations"
            f" WHERE id = '{reservation_id}' AND status = 'succeeded'",
        )
        == 1
    )


async def test_worker_killed_mid_batch_and_restarted(
    settings: Settings, book: Callable[..., Any], tmp_path: Path, unique: str
) -> None:
    url = settings.database.url.get_secret_value()
    total = 150
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=20)
    rows = [
        await book(user_id=f"u{i}", service_id="mastering", starts_at=base + timedelta(hours=i))
        for i in range(total)
    ]
    records = []
    for row in rows:
        sid = f"cs_test_{uuid.uuid4().hex}"
        records.append(checkout_message(checkout_fact(sid, [row])))
        paid = stripe_event(s.CHECKOUT_SESSION_COMPLETED, sid, [row])
        records += [stripe_message(paid), stripe_message(paid)]
    await _produce(settings.kafka, records)
    env = _env(settings, f"reservation-kill-{unique}")
    first = _process("worker", env, tmp_path / "first.log", "--without-web").start()
    done = "SELECT count(*) FROM reservations WHERE status = 'succeeded'"

    async def some_done() -> bool:
        return _count(url, done) >= 15

    await eventually(some_done, timeout=60, what=lambda: f"15 confirmed\n{first.output()[-3000:]}")
    first.kill()
    at_kill = _count(url, done)
    assert at_kill < total, "the kill must land mid-stream"
    second = _process("worker", env, tmp_path / "second.log", "--without-web").start()
    relay = _process("relay", env, tmp_path / "relay.log").start()
    try:

        async def all_done() -> bool:
            return _count(url, done) == total

        await eventually(
            all_done, timeout=90, what=lambda: f"all confirmed\n{second.output()[-3000:]}"
        )
        ids = {r.id for r in rows}

        async def published() -> list[Any]:
            mine = [
                r
                for r in await read_topic(settings.kafka, RESERVATION_EVENTS)
                if r.key is not None and r.key.decode() in ids
            ]
            return mine if len(mine) >= total else []

        facts = await eventually(
            published, timeout=30, what=lambda: f"facts\n{relay.output()[-2000:]}"
        )
    finally:
        second.terminate()
        relay.terminate()
    assert _count(url, "SELECT count(*) FROM outbox") == total
    assert len(facts) == total, "every fact published exactly once"
    assert {f.key.decode() for f in facts} == ids
    assert all(json.loads(f.value)["event_type"] == RESERVATION_CONFIRMED_V1 for f in facts)
    print(f"worker kill test: {at_kill} of {total} confirmed at the kill")
