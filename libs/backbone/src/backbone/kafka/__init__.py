"""Kafka for every service: topics, a producer that waits for acks=all, and the consumer contract.

What a consumer relies on: a `Message` is one record as stored; a `BatchHandler` takes a batch of
them (a single record is a batch of one); `MessageProcessor` tries a batch whole, then in halves,
then record by record with bounded retries and the `<group>.dlq` topic (`DeadLetterWriter`),
waiting out outages (`classify`, `TransientWait`) instead of dead-lettering them. The worker
runtime that feeds it is Faust (backbone.faust). Partition bounds and tail reads that are right on
the embedded broker too are `high_watermarks` and `read_between`; `ensure_topics` creates topics.

Names are imported from their modules on first use, so a process that only produces does not load
the consumer side, and `python -m backbone.kafka.admin` runs without runpy's warning about a
module imported before it is run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backbone.exports import lazy_exports

if TYPE_CHECKING:
    from backbone.kafka.admin import TopicSettings, ensure_topics
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

# Each public name's module, imported on first use (see the docstring). No public name may be
# a submodule's name: importing that submodule would set the package attribute to the module.
_MODULES = {
    "admin": ("TopicSettings", "ensure_topics"),
    "deadletter": ("DeadLetterWriter", "dead_letter_record"),
    "depth": ("dead_letter_depth", "update_dead_letter_gauge"),
    "failures": (
        "Failure",
        "Kind",
        "PermanentError",
        "TransientError",
        "classify",
        "register_transient",
    ),
    "message": ("BatchHandler", "Headers", "Message", "encode_headers"),
    "offsets": ("high_watermarks", "partitions_of", "read_between", "reader"),
    "processor": ("MessageProcessor",),
    "producer": ("BrokerUnavailable", "Delivered", "OutgoingRecord", "Producer"),
    "retry": ("Outcome", "handle_with_retries"),
    "waiting": ("TransientWait", "retry_transient"),
}

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


__getattr__, __dir__ = lazy_exports(__name__, _MODULES, __all__)
