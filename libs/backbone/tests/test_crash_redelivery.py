"""A consumer SIGKILLed between its database commit and its offset commit: redelivery is a no-op."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from backbone.kafka import Producer
from backbone.settings import KafkaSettings
from devstack.testing import ChildProcess, eventually

from .support import create_schema, group_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKER = Path(__file__).parent / "workers" / "inbox_consumer.py"


def _rows(database_url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql).fetchall()


async def test_redelivery_after_kill_changes_state_once(
    kafka_settings: KafkaSettings, database_url: str, unique: str, tmp_path: Path
) -> None:
    group, topic = f"g-{unique}", f"t-{unique}"
    await group_topics(kafka_settings, group, topic, partitions=1)
    create_schema(database_url)
    marker = tmp_path / "crashed"
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "DATABASE_URL": database_url,
        "GROUP": group,
        "TOPIC": topic,
        "CRASH_MARKER": str(marker),
    }
    producer = Producer(kafka_settings)
    await producer.send(topic, b"{}", key=b"k", headers=[("event-id", b"evt_once")])
    await producer.stop()

    first = ChildProcess([str(WORKER)], env=env, log_path=tmp_path / "first.log").start()

    async def died() -> bool:
        return not first.alive

    await eventually(died, timeout=30, what="the consumer's crash")
    assert marker.exists(), first.output()
    assert _rows(database_url, "SELECT applied FROM effects") == [(1,)]

    second = ChildProcess([str(WORKER)], env=env, log_path=tmp_path / "second.log").start()
    try:

        async def redelivered() -> bool:
            return len(_rows(database_url, "SELECT id FROM deliveries")) >= 2

        await eventually(redelivered, timeout=30, what="the redelivery")
    finally:
        second.terminate()

    assert _rows(database_url, "SELECT event_id FROM deliveries ORDER BY id") == [
        ("evt_once",),
        ("evt_once",),
    ]
    assert _rows(database_url, "SELECT event_id, applied FROM effects") == [("evt_once", 1)]
    assert _rows(database_url, "SELECT count(*) FROM inbox") == [(1,)]
