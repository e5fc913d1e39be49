"""Dead-lettering: the original record untouched plus the dead-letter headers, into <group>.dlq."""

from __future__ import annotations

from datetime import UTC, datetime

from backbone.kafka._failures import Failure, Kind
from backbone.kafka._message import Message
from backbone.kafka._producer import BrokerUnavailable, OutgoingRecord, Producer
from backbone.kafka._waiting import TransientWait
from backbone.logging import get_logger
from backbone.settings import RetrySettings
from contracts.deadletter import DeadLetterHeadersV1, without_dead_letter_headers
from contracts.topics import dlq_topic

log = get_logger(__name__)


def dead_letter_record(
    message: Message,
    group: str,
    error: BaseException,
    attempts: int,
    *,
    now: datetime | None = None,
) -> OutgoingRecord:
    """The record to write: same key, value and headers, plus where and why it failed."""
    dead_letter = DeadLetterHeadersV1(
        original_topic=message.topic,
        original_partition=message.partition,
        original_offset=message.offset,
        original_timestamp=message.timestamp_ms if message.timestamp_ms >= 0 else None,
        consumer_group=group,
        error_class=f"{type(error).__module__}.{type(error).__qualname__}",
        error_message=str(error),
        attempts=attempts,
        failed_at=now or datetime.now(UTC),
    )
    # A replayed record failing again must not carry two sets of dead-letter headers.
    kept = [
        (k, v if v is not None else b"") for k, v in without_dead_letter_headers(message.headers)
    ]
    return OutgoingRecord(
        dlq_topic(group), message.value, message.key, (*kept, *dead_letter.to_headers())
    )


class DeadLetterWriter:
    """Writes dead letters and does not return until the broker has acknowledged one."""

    def __init__(self, producer: Producer, group: str, *, retry_interval_s: float = 1.0) -> None:
        self._producer = producer
        self._group = group
        self._retry_interval_s = retry_interval_s

    async def write(self, message: Message, error: BaseException, attempts: int) -> None:
        """Dead-letter `message`; while the broker is away, keep trying (the offset stays put)."""
        record = dead_letter_record(message, self._group, error, attempts)
        pacing = RetrySettings(
            transient_backoff_initial_s=self._retry_interval_s,
            transient_backoff_max_s=max(self._retry_interval_s, 5.0),
        )
        wait = TransientWait(self._group, pacing)
        while True:
            try:
                delivered = await self._producer.send(
                    record.topic, record.value, key=record.key, headers=record.headers
                )
            except BrokerUnavailable as exc:
                await wait.pause(Failure(Kind.TRANSIENT, "broker"), exc)
            else:
                wait.end()
                log.error(
                    "message.dead_lettered",
                    dlq_topic=delivered.topic,
                    dlq_partition=delivered.partition,
                    dlq_offset=delivered.offset,
                    error_class=type(error).__name__,
                    attempts=attempts,
                )
                return
