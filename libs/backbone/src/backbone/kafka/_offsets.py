"""Partition bounds and tail reads that are right on Apache Kafka and on the embedded broker.

Tansu's `end_offsets` answers the start of the last batch + 1, so bounds come from the fetch
high-water mark instead, which both brokers report correctly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

from backbone.kafka._message import Message
from backbone.settings import KafkaSettings


def reader(settings: KafkaSettings, client_id: str) -> AIOKafkaConsumer:
    """A group-less consumer for assigning partitions by hand."""
    return AIOKafkaConsumer(
        **settings.client_options(),
        client_id=client_id,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """Every partition of `topic` (empty if the topic does not exist)."""
    parts = consumer.partitions_for_topic(topic)
    if parts is None:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic)
    if parts is None:
        # Once a consumer has an assignment its client refreshes only the assigned topics, so a
        # reader reused for another topic must ask for the whole cluster's metadata.
        cluster = await consumer._client.fetch_all_metadata()
        parts = cluster.partitions_for_topic(topic)
    return [TopicPartition(topic, p) for p in sorted(parts or set())]


async def high_watermarks(
    consumer: AIOKafkaConsumer, tps: Iterable[TopicPartition], *, timeout_s: float = 10.0
) -> dict[TopicPartition, int]:
    """The next offset to be written on each partition, read from a fetch response."""
    wanted = list(tps)
    consumer.assign(wanted)
    for tp in wanted:
        consumer.seek(tp, 0)
    deadline = time.monotonic() + timeout_s
    while any(consumer.highwater(tp) is None for tp in wanted):
        if time.monotonic() > deadline:
            raise TimeoutError("broker did not report high-water marks")
        await consumer.getmany(*wanted, timeout_ms=200, max_records=1)
    return {tp: int(consumer.highwater(tp)) for tp in wanted}


async def read_between(
    consumer: AIOKafkaConsumer,
    bounds: dict[TopicPartition, tuple[int, int]],
    *,
    timeout_s: float = 30.0,
) -> list[Message]:
    """Every record with start <= offset < end on each partition, in partition then offset order."""
    pending = {tp: (start, end) for tp, (start, end) in bounds.items() if end > start}
    if not pending:
        return []
    consumer.assign(list(pending))
    for tp, (start, _) in pending.items():
        consumer.seek(tp, start)
    found: dict[TopicPartition, list[Message]] = {tp: [] for tp in pending}
    deadline = time.monotonic() + timeout_s
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"records missing below the high-water mark of {list(pending)}")
        batch = await consumer.getmany(*pending, timeout_ms=200)
        for tp, records in batch.items():
            end = pending[tp][1] if tp in pending else -1
            found[tp].extend(Message.from_record(r) for r in records if r.offset < end)
            if records and records[-1].offset >= end - 1:
                pending.pop(tp, None)
                consumer.pause(tp)
        await asyncio.sleep(0)
    return [m for tp in sorted(found) for m in found[tp]]
