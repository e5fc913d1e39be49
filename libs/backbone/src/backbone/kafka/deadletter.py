"""Dead-lettering: the original record untouched plus the dead-letter headers, into <group>.dlq."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from contracts import headers as h
from contracts.topics import dlq_topic

from backbone.kafka.message import Message
from backbone.kafka.producer import BrokerUnavailable, OutgoingRecord, Producer
from backbone.logging import get_logger

log = get_logger(__name__)

MAX_ERROR_MESSAGE = 2_000


def dead_letter_record(
    message: Message, group: str, error: BaseException, attempts: int, *, now: datetime | None = None
) -> OutgoingRecord:
    """The record to write: same key, value and headers, plus where and why it failed."""
    failed_at = (now or datetime.now(UTC)).isoformat()
    extra = {
        h.DLQ_ORIGINAL_TOPIC: message.topic,
        h.DLQ_ORIGINAL_PARTITION: str(message.partition),
        h.DLQ_ORIGINAL_OFFSET: str(message.offset),
        h.DLQ_ORIGINAL_TIMESTAMP: str(message.timestamp_ms),
        h.DLQ_CONSUMER_GROUP: group,
        h.DLQ_ERROR_CLASS: f"{type(error).__module__}.{type(error).__qualname__}",
        h.DLQ_ERROR_MESSAGE: str(error)[:MAX_ERROR_MESSAGE],
        h.DLQ_ATTEMPTS: str(attempts),
        h.DLQ_FAILED_AT: failed_at,
    }
    # A record replayed from the DLQ and failing again must not carry two sets of DLQ headers.
    kept = tuple((k, v) for k, v in message.headers if k not in h.DLQ_HEADERS)
    added = tuple((k, v.encode("utf-8")) for k, v in extra.items())
    return OutgoingRecord(dlq_topic(group), message.value, message.key, kept + added)


class DeadLetterWriter:
    """Writes dead letters and does not return until the broker has acknowledged one."""

    def __init__(self, producer: Producer, group: str, *, retry_interval_s: float = 1.0) -> None:
        self._producer = producer
        self._group = group
        self._retry_interval_s = retry_interval_s

    async def write(self, message: Message, error: BaseException, attempts: int) -> None:
        """Dead-letter `message`; while the broker is away, keep trying (the offset stays put)."""
        record = dead_letter_record(message, self._group, error, attempts)
        while True:
            try:
                delivered = await self._producer.send(
                    record.topic, record.value, key=record.key, headers=record.headers
                )
            except BrokerUnavailable as exc:
                log.error("dlq.write_failed_retrying", error=str(exc))
                await asyncio.sleep(self._retry_interval_s)
            else:
                log.error(
                    "message.dead_lettered",
                    dlq_topic=delivered.topic,
                    dlq_partition=delivered.partition,
                    dlq_offset=delivered.offset,
                    error_class=type(error).__name__,
                    attempts=attempts,
                )
                return
