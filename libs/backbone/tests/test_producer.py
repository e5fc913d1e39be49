"""The producer: a clear, bounded failure when the broker is away, and recovery when it returns."""

from __future__ import annotations

import time

import pytest

from backbone.kafka import BrokerUnavailable, Producer, ensure_topics
from backbone.settings import KafkaSettings
from devstack.broker import EmbeddedBroker
from devstack.ports import free_port
from devstack.testing import read_topic

pytestmark = pytest.mark.integration


async def test_unreachable_broker_fails_fast_with_a_clear_error() -> None:
    settings = KafkaSettings(
        bootstrap_servers=f"127.0.0.1:{free_port()}", connect_timeout_s=1.0, send_timeout_s=1.0
    )
    producer = Producer(settings)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match="unreachable"):
        await producer.send("anything", b"x")
    assert time.monotonic() - started < 5
    assert not await producer.ping()


async def test_producer_recovers_when_the_broker_comes_back_without_a_restart() -> None:
    broker = EmbeddedBroker().start()
    settings = KafkaSettings(
        bootstrap_servers=broker.bootstrap_servers, connect_timeout_s=1.0, send_timeout_s=1.0
    )
    producer = Producer(settings)
    try:
        await ensure_topics(settings, {"recover": 1})
        await producer.send("recover", b"before")
        broker.kill()
        with pytest.raises(BrokerUnavailable):
            await producer.send("recover", b"while-down")
        broker.start()  # same port; the broker is in memory, so the topic must be made again
        await ensure_topics(settings, {"recover": 1})
        await producer.send("recover", b"after")
        assert [m.value for m in await read_topic(settings, "recover")] == [b"after"]
    finally:
        await producer.stop()
        broker.stop()
