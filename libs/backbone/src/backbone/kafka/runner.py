"""The aiokafka consumer runner: at-least-once, offsets committed once handled or dead-lettered."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from backbone import metrics
from backbone.kafka.deadletter import DeadLetterWriter
from backbone.kafka.message import Message
from backbone.kafka.processor import MessageProcessor
from backbone.kafka.producer import Producer
from backbone.kafka.retry import Handler
from backbone.logging import get_logger
from backbone.settings import KafkaSettings, RetrySettings

log = get_logger(__name__)


class ConsumerRunner:
    """Consumes `topics` (and `<group>.retry`) as consumer group `group`.

    Partitions of one fetch are processed concurrently, the records of one partition in order.
    A partition's offset is committed once every record of its batch was handled or
    dead-lettered; a crash before that redelivers the batch, which idempotent handlers absorb.
    """

    def __init__(
        self,
        group: str,
        topics: Sequence[str],
        handler: Handler,
        *,
        kafka: KafkaSettings,
        retry: RetrySettings | None = None,
        producer: Producer | None = None,
        include_retry_topic: bool = True,
    ) -> None:
        from contracts.topics import retry_topic

        self.group = group
        self.topics = tuple(topics) + ((retry_topic(group),) if include_retry_topic else ())
        self._kafka = kafka
        self._producer = producer or Producer(kafka, client_id=f"{group}-dlq")
        self._owns_producer = producer is None
        self._processor = MessageProcessor(
            group, handler, retry or RetrySettings(), DeadLetterWriter(self._producer, group)
        )
        self._consumer: AIOKafkaConsumer | None = None
        self._stopping = asyncio.Event()
        self.ready = asyncio.Event()

    def stop(self) -> None:
        """Ask the loop to finish the batch in hand, commit, and return."""
        self._stopping.set()

    async def run(self) -> None:
        """Consume until `stop()`; the consumer is closed on the way out."""
        consumer = self._consumer = AIOKafkaConsumer(
            *self.topics,
            **self._kafka.client_options(),
            group_id=self.group,
            client_id=f"{self._kafka.client_id}-{self.group}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self._kafka.session_timeout_ms,
            heartbeat_interval_ms=self._kafka.heartbeat_interval_ms,
            max_poll_records=self._kafka.max_poll_records,
            fetch_max_wait_ms=self._kafka.fetch_max_wait_ms,
        )
        await consumer.start()
        log.info("consumer.started", group=self.group, topics=self.topics)
        try:
            while not self._stopping.is_set():
                batch = await consumer.getmany(timeout_ms=250)
                if consumer.assignment():
                    self.ready.set()
                if batch:
                    await asyncio.gather(
                        *(self._drain(consumer, tp, records) for tp, records in batch.items())
                    )
        finally:
            await consumer.stop()
            if self._owns_producer:
                await self._producer.stop()
            log.info("consumer.stopped", group=self.group)

    async def _drain(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[Any]
    ) -> None:
        for record in records:
            await self._processor.process(Message.from_record(record))
        last = records[-1].offset
        try:
            await consumer.commit({tp: last + 1})
        except (CommitFailedError, KafkaError) as exc:
            # The partition moved to another member: it will see the batch again, harmlessly.
            log.warning("consumer.commit_failed", partition=tp.partition, error=str(exc))
        highwater = consumer.highwater(tp)
        if highwater is not None:
            metrics.CONSUMER_LAG.labels(self.group, tp.topic, str(tp.partition)).set(
                max(highwater - (last + 1), 0)
            )
