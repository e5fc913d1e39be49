"""A Faust worker SIGKILLed between its database commit and its offset commit: redelivery is a
no-op (the inbox absorbs it)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from backbone.kafka import Producer
from backbone.settings import KafkaSettings
from devstack.testing import ChildProcess, eventually

from .support import create_schema, group_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKER = Path(__file__).parent / "workers" / "faust_worker.py"
ARGS = [str(WORKER), "worker", "--without-web", "-l", "warn"]


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
        "DATA_DIR": str(tmp_path / "faust-data"),
    }
    producer = Producer(kafka_settings)
    await producer.send(topic, b"{}", key=b"k", headers=[("event-id", b"evt_once")])
    await producer.stop()

    first = ChildProcess(ARGS, env=env, log_path=tmp_path / "first.log").start()

    async def died() -> bool:
        return not first.alive

    await eventually(died, timeout=60, what=lambda: f"the worker's crash\n{first.output()}")
    assert marker.exists(), first.output()
    assert _rows(database_url, "SELECT applied FROM effects") == [(1,)]

    second = ChildProcess(ARGS, env=env, log_path=tmp_path / "second.log").start()
    try:

        async def redelivered() -> bool:
            return len(_rows(database_url, "SELECT id FROM deliveries")) >= 2

        await eventually(redelivered, timeout=60, what=lambda: f"the redelivery\n{second.output()}")
    finally:
        second.terminate()

    assert _rows(database_url, "SELECT event_id FROM deliveries ORDER BY id") == [
        ("evt_once",),
        ("evt_once",),
    ]
    assert _rows(database_url, "SELECT event_id, applied FROM effects") == [("evt_once", 1)]
    assert _rows(database_url, "SELECT count(*) FROM inbox") == [(1,)]
