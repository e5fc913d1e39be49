"""The publisher's linger on a real broker: the records of webhooks verified within it go to the
producer in one call (sooner once `flush_at` wait), each still settled on its own
acknowledgement."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest

from backbone.kafka import Delivered, OutgoingRecord, Producer, ensure_topics
from backbone.settings import KafkaSettings
from devstack.testing import next_turn, read_topic
from webhook_ingest.publisher import Publisher

pytestmark = pytest.mark.integration


class CountingProducer(Producer):
    """The real producer, noting the size of each `send_many` call."""

    def __init__(self, settings: KafkaSettings) -> None:
        super().__init__(settings, client_id="publisher-test")
        self.calls: list[int] = []

    async def send_many(self, records: Iterable[OutgoingRecord]) -> list[Delivered]:
        batch = list(records)
        self.calls.append(len(batch))
        return await super().send_many(batch)


async def _publish_one_per_turn(publisher: Publisher, count: int) -> None:
    """`count` webhooks, the i-th verified i turns of the event loop after the first."""

    async def one(i: int) -> None:
        for _ in range(i):
            await next_turn()
        await publisher.publish(b'{"id": "evt_%d"}' % i, b"cs_%d" % i, [])

    await asyncio.gather(*(one(i) for i in range(count)))


@pytest.mark.parametrize(
    ("linger_s", "flush_at", "calls"),
    [
        (0.0, 16, [1, 1, 1, 1, 1]),  # no linger: each turn's webhook is its own call
        (0.5, 16, [5]),  # all five within the linger: one call
        (0.5, 3, [3, 2]),  # the third brings the call forward; the last two linger
    ],
)
async def test_records_within_the_linger_go_to_the_producer_together(
    kafka_settings: KafkaSettings, unique: str, linger_s: float, flush_at: int, calls: list[int]
) -> None:
    topic = f"publisher.{unique}"
    await ensure_topics(kafka_settings, {topic: 6})
    producer = CountingProducer(kafka_settings)
    await producer.start()
    try:
        publisher = Publisher(producer, topic, timeout_s=10.0, linger_s=linger_s, flush_at=flush_at)
        await _publish_one_per_turn(publisher, 5)
        assert producer.calls == calls
        assert publisher.in_flight == 0
        records = await read_topic(kafka_settings, topic)
        assert sorted(r.key or b"" for r in records) == [b"cs_%d" % i for i in range(5)]
    finally:
        await producer.stop()
