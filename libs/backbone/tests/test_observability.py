"""Metrics for workers: a /metrics server, dead-letter depth, and JSON logs under Faust."""

from __future__ import annotations

import json
import logging
import logging.config
import sys

import httpx
import pytest

from backbone import metrics
from backbone.kafka import OutgoingRecord, Producer, ensure_topics, update_dead_letter_gauge
from backbone.logging import configure_logging, faust_logging_config, get_logger
from backbone.metrics_server import serve_metrics
from backbone.settings import KafkaSettings, LogSettings
from contracts.topics import dlq_topic


def test_metrics_server_serves_the_shared_registry() -> None:
    metrics.CONSUMER_LAG.labels("g-served", "t", "0").set(7)
    port = serve_metrics(0, "127.0.0.1")
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert response.status_code == 200
    assert 'consumer_lag_messages{group="g-served",partition="0",topic="t"} 7.0' in response.text


@pytest.mark.integration
async def test_dead_letter_depth_counts_what_the_dlq_holds(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    group = f"depth-{unique}"
    topic = dlq_topic(group)
    await ensure_topics(kafka_settings, {topic: 2})
    assert await update_dead_letter_gauge(kafka_settings, group) == 0
    producer = Producer(kafka_settings)
    try:
        await producer.send_many(
            OutgoingRecord(topic, b"dead", f"k{i}".encode(), []) for i in range(5)
        )
    finally:
        await producer.stop()
    assert await update_dead_letter_gauge(kafka_settings, group) == 5
    assert metrics.DEAD_LETTERS.labels(group, topic)._value.get() == 5


class FileLogProxy:
    """Stands in for mode's proxy a Faust worker puts in place of sys.stderr."""

    def __init__(self) -> None:
        self.written: list[str] = []

    def write(self, text: str) -> int:
        self.written.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_json_lines_survive_the_faust_worker_logging_set_up(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_logging("faust-unit", LogSettings(format="json"))
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    proxy = FileLogProxy()
    try:
        # What `faust worker` does: our dictConfig, then stderr swapped for a logging proxy.
        logging.config.dictConfig(faust_logging_config(LogSettings(format="json")))
        monkeypatch.setattr(sys, "stderr", proxy)
        get_logger("t").info("structlog.line", session_id="cs_1")
        logging.getLogger("stdlib.test").warning("stdlib line")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    assert not proxy.written
    lines = [json.loads(x) for x in capfd.readouterr().err.splitlines() if x.startswith("{")]
    events = {line["event"]: line for line in lines}
    assert events["structlog.line"]["session_id"] == "cs_1"
    assert events["stdlib line"]["level"] == "warning"
