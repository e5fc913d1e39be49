"""The Faust app factory: our fetch wait reaches the consumer Faust builds (Faust hard-codes
1,500 ms, which on the embedded broker delays delivery by up to that much; see BackboneApp), and
an idle consumer's wait grows to the idle wait until records arrive (FetchWait)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import faust
import pytest

from backbone.faust import FetchWait, create_faust_app
from backbone.kafka import Message, Producer
from backbone.settings import KafkaSettings, RetrySettings
from devstack.testing import eventually

from .support import faust_consumer, group_topics


async def test_the_worker_consumer_uses_the_configured_fetch_wait(tmp_path: Path) -> None:
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:9", fetch_max_wait_ms=77)
    app = create_faust_app("fetch-wait-test", kafka, datadir=str(tmp_path))
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        # Not started (no broker needed): aiokafka hands this value to its fetcher on start.
        assert consumer._fetch_max_wait_ms == 77
        assert consumer._group_id == "fetch-wait-test"
    finally:
        await consumer.stop()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_fetch_wait_is_short_while_records_flow_and_long_once_idle() -> None:
    clock = _Clock()
    wait = FetchWait(busy_ms=100, idle_ms=500, idle_after_s=2.0, clock=clock)
    assert wait.current_ms == 100
    clock.now += 1.9
    assert wait.observed(False) == 100  # quiet, not yet for idle_after_s
    clock.now += 0.1
    assert wait.observed(False) == 500
    clock.now += 60
    assert wait.observed(False) == 500
    assert wait.observed(True) == 100  # the first fetch with records ends the idle spell
    clock.now += 1.0
    assert wait.observed(False) == 100
    # An idle wait set shorter than the busy one never makes an idle consumer fetch more often.
    assert FetchWait(busy_ms=300, idle_ms=100, idle_after_s=0, clock=clock).observed(False) == 300


@pytest.mark.integration
async def test_an_idle_worker_fetches_with_the_long_wait_until_records_arrive(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    group, topic = f"g-{unique}", f"t-{unique}"
    await group_topics(kafka_settings, group, topic)
    kafka = kafka_settings.model_copy(
        update={"fetch_max_wait_ms": 20, "idle_fetch_max_wait_ms": 400, "idle_fetch_after_ms": 1500}
    )
    apps: list[faust.App] = []
    received: list[tuple[bytes | None, int | None]] = []

    async def handler(messages: Sequence[Message]) -> None:
        wait = _fetch_wait(apps[0])
        received.extend((m.value, wait) for m in messages)

    async with faust_consumer(kafka, group, [topic], handler, retry=RetrySettings()) as app:
        apps.append(app)

        async def idle() -> bool:
            return _fetch_wait(app) == 400

        async def delivered() -> bool:
            return bool(received)

        await eventually(idle, what="the idle fetch wait")
        producer = Producer(kafka)
        try:
            await producer.send(topic, b"after a quiet spell", key=b"k")
        finally:
            await producer.stop()
        await eventually(delivered, what="delivery")
    # The fetch that brought the record set the short wait back before the handler ran.
    assert received == [(b"after a quiet spell", 20)]


def _fetch_wait(app: faust.App) -> int | None:
    fetcher = app.consumer._thread._consumer._fetcher
    return None if fetcher is None else int(fetcher._fetch_max_wait_ms)
