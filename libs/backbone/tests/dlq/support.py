"""Helpers of the `dlq` tests: test records, topics, a running consumer, CLI results."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import faust

from backbone.kafka import BatchHandler, Producer, ensure_topics
from backbone.settings import KafkaSettings, RetrySettings
from contracts import headers as h
from contracts.topics import dlq_topic, retry_topic

from ..support import faust_consumer

# Headers of our own for the test records: one binary, one empty, to check they survive intact.
BINARY_HEADER = "x-test-binary"
EMPTY_HEADER = "x-test-empty"
CREATED, UPDATED = "thing.created", "thing.updated"
PARTITIONS = 3


@dataclass(frozen=True)
class Sent:
    """One record produced to the source topic, as sent."""

    event_id: str
    event_type: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def record(event_id: str, event_type: str, value: bytes | None = None) -> Sent:
    """A source record with our headers."""
    headers = (
        (h.EVENT_ID, event_id.encode()),
        (h.EVENT_TYPE, event_type.encode()),
        (BINARY_HEADER, b"\x00\xff" + event_id.encode()),
        (EMPTY_HEADER, b""),
    )
    body = value if value is not None else json.dumps({"id": event_id, "n": 1}).encode()
    return Sent(event_id, event_type, f"key-{event_id}".encode(), body, headers)


async def group_topics(kafka: KafkaSettings, group: str, source: str) -> None:
    """The source topic and the group's retry and DLQ topics, several partitions each."""
    await ensure_topics(
        kafka, {source: PARTITIONS, retry_topic(group): PARTITIONS, dlq_topic(group): PARTITIONS}
    )


async def produce(kafka: KafkaSettings, topic: str, records: list[Sent]) -> None:
    """Send `records` to `topic`, acknowledged."""
    producer = Producer(kafka)
    try:
        for r in records:
            await producer.send(topic, r.value, key=r.key, headers=r.headers)
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def running(
    kafka: KafkaSettings, group: str, source: str, handler: BatchHandler
) -> AsyncIterator[faust.App]:
    """The Faust consumer path on `group` (source + retry topic) for the duration of the block."""
    retry = RetrySettings(max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.02)
    async with faust_consumer(kafka, group, [source], handler, retry=retry) as app:
        yield app


@dataclass
class DeadLetters:
    """A group with dead letters made in two batches, and the times around them."""

    group: str
    source: str
    first: list[Sent]
    second: list[Sent]
    between: datetime
    after: datetime
    entries: dict[str, str] = field(default_factory=dict)  # event id -> "<partition>:<offset>"

    @property
    def sent(self) -> list[Sent]:
        """Every record sent, first batch first."""
        return [*self.first, *self.second]

    def by_id(self, event_id: str) -> Sent:
        """The record sent with `event_id`."""
        return next(s for s in self.sent if s.event_id == event_id)


@dataclass(frozen=True)
class Result:
    """What one `dlq` run gave: exit code, text output, error output, raw bytes output."""

    code: int
    out: str
    err: str
    raw: bytes

    def json_lines(self) -> list[dict[str, Any]]:
        """stdout parsed as JSON lines."""
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


Dlq = Callable[..., Awaitable[Result]]
