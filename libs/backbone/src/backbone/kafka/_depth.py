"""Dead-letter topic depth: how many records a group's `<group>.dlq` holds right now."""

from __future__ import annotations

from backbone import metrics
from backbone.kafka._offsets import high_watermarks, partitions_of, reader
from backbone.settings import KafkaSettings
from contracts.topics import dlq_topic


async def dead_letter_depth(kafka: KafkaSettings, group: str) -> int:
    """Records held in `<group>.dlq`: high-water marks (from a fetch) minus earliest offsets.

    Replaying does not remove a dead letter, so this counts what was ever dead-lettered and is
    still retained; alert on its increase, not on its level.
    """
    topic = dlq_topic(group)
    consumer = reader(kafka, f"{kafka.client_id}-{group}-dlq-depth")
    await consumer.start()
    try:
        tps = await partitions_of(consumer, topic)
        if not tps:
            return 0
        ends = await high_watermarks(consumer, tps)
        starts = await consumer.beginning_offsets(tps)
        return sum(max(ends[tp] - min(starts.get(tp, 0), ends[tp]), 0) for tp in tps)
    finally:
        await consumer.stop()


async def update_dead_letter_gauge(kafka: KafkaSettings, group: str) -> int:
    """Read the depth of `<group>.dlq` and set consumer_dead_letter_messages; returns it."""
    depth = await dead_letter_depth(kafka, group)
    metrics.DEAD_LETTERS.labels(group, dlq_topic(group)).set(depth)
    return depth
