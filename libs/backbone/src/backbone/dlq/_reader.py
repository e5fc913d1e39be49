"""Reading dead-letter topics: which groups have one, their bounds, and their entries decoded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from backbone.dlq._errors import BrokerError, DlqError
from backbone.dlq._selection import Coordinate
from backbone.kafka import Message, high_watermarks, partitions_of, read_between, reader
from backbone.settings import KafkaSettings
from contracts import headers as h
from contracts.deadletter import DeadLetterHeadersV1
from contracts.topics import CONSUMER_GROUPS, DLQ_SUFFIX, dlq_topic

Bounds = dict[TopicPartition, tuple[int, int]]


@dataclass(frozen=True)
class DeadLetter:
    """One record of a DLQ topic with its dead-letter headers read (None if they do not parse)."""

    message: Message
    headers: DeadLetterHeadersV1 | None
    problem: str | None = None

    @classmethod
    def of(cls, message: Message) -> DeadLetter:
        """Decode `message`; a record without valid dead-letter headers is kept, with the reason."""
        try:
            return cls(message, DeadLetterHeadersV1.from_headers(message.headers))
        except ValueError as exc:
            return cls(message, None, str(exc).splitlines()[0])

    @property
    def coordinate(self) -> Coordinate:
        """Where it is in the DLQ topic."""
        return Coordinate(self.message.partition, self.message.offset)

    @property
    def event_id(self) -> str | None:
        """The event id header (or the Stripe event id on stripe.events records)."""
        return self.message.header(h.EVENT_ID) or self.message.header(h.STRIPE_EVENT_ID)

    @property
    def event_type(self) -> str | None:
        """The event type header (or the Stripe event type)."""
        return self.message.header(h.EVENT_TYPE) or self.message.header(h.STRIPE_EVENT_TYPE)

    @property
    def error_class(self) -> str | None:
        """The qualified class of the error that dead-lettered it."""
        return self.headers.error_class if self.headers else None

    @property
    def failed_at(self) -> datetime | None:
        """When it was dead-lettered; the record's own timestamp if the header is missing."""
        if self.headers is not None:
            return self.headers.failed_at
        if self.message.timestamp_ms >= 0:
            return datetime.fromtimestamp(self.message.timestamp_ms / 1000, UTC)
        return None


class DlqReader:
    """A group-less consumer over DLQ (and audit) topics; use as `async with DlqReader(...)`."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> DlqReader:
        consumer = reader(self._settings, f"{self._settings.client_id}-dlq-cli")
        try:
            await asyncio.wait_for(consumer.start(), timeout=self._settings.connect_timeout_s)
        except (TimeoutError, KafkaError, OSError) as exc:
            await _quietly_stop(consumer)
            raise BrokerError(
                f"broker unreachable at {self._settings.bootstrap_servers}"
                f" ({type(exc).__name__}); set KAFKA_BOOTSTRAP_SERVERS"
            ) from exc
        self._consumer = consumer
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await _quietly_stop(consumer)

    @property
    def consumer(self) -> AIOKafkaConsumer:
        """The started consumer."""
        if self._consumer is None:
            raise RuntimeError("DlqReader used outside `async with`")
        return self._consumer

    async def topic_names(self) -> set[str]:
        """Every topic the broker knows."""
        try:
            return set(await self.consumer.topics())
        except (KafkaError, OSError) as exc:
            raise BrokerError(f"broker did not list its topics ({type(exc).__name__})") from exc

    async def groups(self) -> list[str]:
        """The registry's groups, then any other group that has a `<group>.dlq` topic."""
        found = {t[: -len(DLQ_SUFFIX)] for t in await self.topic_names() if t.endswith(DLQ_SUFFIX)}
        return [*CONSUMER_GROUPS, *sorted(found - set(CONSUMER_GROUPS))]

    async def dlq_of(self, group: str) -> str:
        """The DLQ topic of `group`; a clear error if it has none."""
        topic = dlq_topic(group)
        names = await self.topic_names()
        if topic in names:
            return topic
        if group in CONSUMER_GROUPS:
            raise DlqError(f"{topic} does not exist yet: has the {group} consumer ever started?")
        known = ", ".join(await self.groups()) or "none"
        raise DlqError(f"unknown group '{group}': no topic {topic} (groups with a DLQ: {known})")

    async def partition_count(self, topic: str) -> int:
        """How many partitions `topic` has."""
        return len(await partitions_of(self.consumer, topic))

    async def bounds(self, topics: Iterable[str]) -> Bounds:
        """For each partition: the first offset still stored and the next offset to be written."""
        tps = [tp for topic in topics for tp in await partitions_of(self.consumer, topic)]
        if not tps:
            return {}
        try:
            starts = await self.consumer.beginning_offsets(tps)
            # end_offsets is wrong on Tansu (start of the last batch + 1): use the fetch high-water.
            ends = await high_watermarks(self.consumer, tps)
        except (TimeoutError, KafkaError, OSError) as exc:
            raise BrokerError(f"broker did not report offsets ({type(exc).__name__})") from exc
        return {tp: (int(starts[tp]), ends[tp]) for tp in tps}

    async def read(self, bounds: Bounds) -> list[Message]:
        """Every record within `bounds` (start included, end excluded)."""
        try:
            return await read_between(self.consumer, bounds)
        except (TimeoutError, KafkaError, OSError) as exc:
            raise BrokerError(f"broker did not deliver the records ({type(exc).__name__})") from exc

    async def entries_at(self, group: str, places: Iterable[Coordinate]) -> list[DeadLetter]:
        """The dead letters at `places`; an offset outside its partition's bounds is an error."""
        topic = await self.dlq_of(group)
        bounds = await self.bounds([topic])
        wanted: dict[TopicPartition, list[int]] = {}
        for place in places:
            tp = TopicPartition(topic, place.partition)
            if tp not in bounds:
                raise DlqError(f"{topic} has no partition {place.partition}")
            start, end = bounds[tp]
            if not start <= place.offset < end:
                held = f"offsets {start}-{end - 1}" if end > start else "no records"
                raise DlqError(
                    f"offset {place} is out of range: partition {place.partition} of {topic}"
                    f" holds {held}"
                )
            wanted.setdefault(tp, []).append(place.offset)
        span = {tp: (min(offsets), max(offsets) + 1) for tp, offsets in wanted.items()}
        chosen = {(tp.partition, o) for tp, offsets in wanted.items() for o in offsets}
        return [
            DeadLetter.of(m) for m in await self.read(span) if (m.partition, m.offset) in chosen
        ]


async def _quietly_stop(consumer: AIOKafkaConsumer) -> None:
    with contextlib.suppress(TimeoutError, KafkaError, OSError):
        await asyncio.wait_for(consumer.stop(), timeout=5.0)
