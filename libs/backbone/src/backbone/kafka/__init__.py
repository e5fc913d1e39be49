"""Kafka for every service: topics, a producer that waits for acks=all, and the consumer contract.

What a consumer relies on: a `Message` is one record as stored; a `BatchHandler` takes a batch of
them (a single record is a batch of one); `MessageProcessor` tries a batch whole, then in halves,
then record by record with bounded retries and the `<group>.dlq` topic (`DeadLetterWriter`),
waiting out outages (`classify`, `TransientWait`) instead of dead-lettering them. The worker
runtime that feeds it is Faust (backbone.faust). Partition bounds and tail reads that are right on
the embedded broker too are `high_watermarks` and `read_between`.
"""

from typing import TYPE_CHECKING, Any

from backbone.kafka.deadletter import DeadLetterWriter, dead_letter_record
from backbone.kafka.depth import dead_letter_depth, update_dead_letter_gauge
from backbone.kafka.failures import (
    Failure,
    Kind,
    PermanentError,
    TransientError,
    classify,
    register_transient,
)
from backbone.kafka.message import BatchHandler, Headers, Message, encode_headers
from backbone.kafka.offsets import high_watermarks, partitions_of, read_between, reader
from backbone.kafka.processor import MessageProcessor
from backbone.kafka.producer import BrokerUnavailable, Delivered, OutgoingRecord, Producer
from backbone.kafka.retry import Outcome, handle_with_retries
from backbone.kafka.waiting import TransientWait, retry_transient

if TYPE_CHECKING:
    from backbone.kafka.admin import TopicSettings, ensure_topics

__all__ = [
    "BatchHandler",
    "BrokerUnavailable",
    "DeadLetterWriter",
    "Delivered",
    "Failure",
    "Headers",
    "Kind",
    "Message",
    "MessageProcessor",
    "Outcome",
    "OutgoingRecord",
    "PermanentError",
    "Producer",
    "TopicSettings",
    "TransientError",
    "TransientWait",
    "classify",
    "dead_letter_depth",
    "dead_letter_record",
    "encode_headers",
    "ensure_topics",
    "handle_with_retries",
    "high_watermarks",
    "partitions_of",
    "read_between",
    "reader",
    "register_transient",
    "retry_transient",
    "update_dead_letter_gauge",
]


def __getattr__(name: str) -> Any:
    # backbone.kafka.admin also runs as `python -m backbone.kafka.admin`: imported here eagerly,
    # it would be in sys.modules before runpy executes it, which runpy warns about.
    if name in ("TopicSettings", "ensure_topics"):
        from backbone.kafka import admin

        return getattr(admin, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
