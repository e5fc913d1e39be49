"""The Faust consumer path (app factory, resilient agent, processor) against a real broker, in
this process: delivery intact, bounded retries, dead-lettering, outages waited out, the retry
topic. One message at a time, so each try of a message is its own (batches: test_faust_agent)."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Sequence

import faust
import pytest

from backbone.kafka import BatchHandler, Message, Producer
from backbone.settings import KafkaSettings, RetrySettings
from contracts import headers as h
from contracts.topics import dlq_topic
from devstack.testing import eventually, read_topic, wait_for_records

from .support import faust_consumer, group_topics

pytestmark = pytest.mark.integration

FAST_RETRY = RetrySettings(max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.05)


@contextlib.asynccontextmanager
async def running(
    kafka_settings: KafkaSettings, group: str, topic: str, handler: BatchHandler
) -> AsyncIterator[faust.App]:
    async with faust_consumer(
        kafka_settings, group, [topic], handler, retry=FAST_RETRY, batch_max_size=1
    ) as app:
        yield app


async def test_message_arrives_with_same_key_value_and_headers(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    group, topic = f"g-{unique}", f"t-{unique}"
    await group_topics(kafka_settings, group, topic)
    received: list[Message] = []

    async def handler(messages: Sequence[Message]) -> None:
        received.extend(messages)

    headers = [("event-id", b"evt_1"), ("empty", b""), ("binary", bytes(range(256)))]
    producer = Producer(kafka_settings)
    await producer.send(topic, b'{"a": 1}', key=b"cs_test_1", headers=headers)
    async with running(kafka_settings, group, topic, handler):
        await eventually(lambda: _ready(received), what="delivery")
    await producer.stop()

    [message] = received
    assert message.key == b"cs_test_1"
    assert message.value == b'{"a": 1}'
    assert list(message.headers) == headers
    assert message.timestamp_ms > 0


async def test_failing_handler_dead_letters_after_exactly_n_attempts_and_stream_goes_on(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    group, topic = f"g-{unique}", f"t-{unique}"
    await group_topics(kafka_settings, group, topic, partitions=1)
    attempts: Counter[bytes] = Counter()
    handled: list[bytes] = []

    async def handler(messages: Sequence[Message]) -> None:
        [message] = messages
        assert message.value is not None
        attempts[message.value] += 1
        if message.value == b"poison":
            raise ValueError("cannot digest this")
        handled.append(message.value)

    producer = Producer(kafka_settings)
    original_headers = [(h.EVENT_ID, b"evt_poison"), ("x-custom", b"\x00\x01")]
    sent = await producer.send(topic, b"poison", key=b"k-poison", headers=original_headers)
    await producer.send(topic, b"healthy", key=b"k-healthy")
    async with running(kafka_settings, group, topic, handler):
        await eventually(lambda: _ready(handled), what="the message after the poison one")
        [dead] = await wait_for_records(kafka_settings, dlq_topic(group), 1)
    await producer.stop()

    assert attempts[b"poison"] == FAST_RETRY.max_attempts
    assert attempts[b"healthy"] == 1
    assert dead.key == b"k-poison"
    assert dead.value == b"poison"
    assert list(dead.headers[: len(original_headers)]) == original_headers
    extra = {k: v.decode() for k, v in dead.headers[len(original_headers) :]}
    assert set(extra) == set(h.DLQ_HEADERS)
    assert extra[h.DLQ_ORIGINAL_TOPIC] == topic
    assert extra[h.DLQ_ORIGINAL_PARTITION] == str(sent.partition)
    assert extra[h.DLQ_ORIGINAL_OFFSET] == str(sent.offset)
    assert int(extra[h.DLQ_ORIGINAL_TIMESTAMP]) > 0
    assert extra[h.DLQ_CONSUMER_GROUP] == group
    assert extra[h.DLQ_ERROR_CLASS] == "builtins.ValueError"
    assert extra[h.DLQ_ERROR_MESSAGE] == "cannot digest this"
    assert extra[h.DLQ_ATTEMPTS] == str(FAST_RETRY.max_attempts)
    assert extra[h.DLQ_FAILED_AT].startswith("20")


async def test_handler_failing_twice_then_succeeding_is_processed_once(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    group, topic = f"g-{unique}", f"t-{unique}"
    await group_topics(kafka_settings, group, topic)
    calls = 0
    done: list[bytes] = []

    async def handler(messages: Sequence[Message]) -> None:
        nonlocal calls
        [message] = messages
        calls += 1
        if calls <= 2:
            raise ConnectionError("database blinked")
        assert message.value is not None
        done.append(message.value)

    producer = Producer(kafka_settings)
    await producer.send(topic, b"flaky", key=b"k")
    await producer.stop()
    async with running(kafka_settings, group, topic, handler):
        await eventually(lambda: _ready(done), what="success on the third attempt")

    assert calls == 3
    assert done == [b"flaky"]
    assert await read_topic(kafka_settings, dlq_topic(group)) == []


async def test_retry_topic_is_consumed_by_its_group(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    group, topic = f"g-{unique}", f"t-{unique}"
    await group_topics(kafka_settings, group, topic)
    seen: list[str] = []

    async def handler(messages: Sequence[Message]) -> None:
        seen.extend(message.topic for message in messages)

    producer = Producer(kafka_settings)
    await producer.send(f"{group}.retry", b"replayed", key=b"k")
    await producer.stop()
    async with running(kafka_settings, group, topic, handler):
        await eventually(lambda: _ready(seen), what="the replayed message")
    assert seen == [f"{group}.retry"]


async def _ready(items: list[object]) -> bool:
    return bool(items)
