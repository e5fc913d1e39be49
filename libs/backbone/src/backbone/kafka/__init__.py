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
    from backbone.kafka._deadletter import DeadLetterWriter, dead_letter_record
    from backbone.kafka._depth import dead_letter_depth, update_dead_letter_gauge
    from backbone.kafka._failures import (
        Failure,
        Kind,
        PermanentError,
        TransientError,
        classify,
        register_transient,
    )
    from backbone.kafka._message import BatchHandler, Headers, Message, encode_headers
    from backbone.kafka._offsets import high_watermarks, partitions_of, read_between, reader
    from backbone.kafka._partitioner import KeyPartitioner, murmur2
    from backbone.kafka._processor import MessageProcessor
    from backbone.kafka._producer import BrokerUnavailable, Delivered, OutgoingRecord, Producer
    from backbone.kafka._retry import Outcome, handle_with_retries
    from backbone.kafka._waiting import TransientWait, retry_transient
    from backbone.kafka.admin import TopicSettings, ensure_topics

# Each public name's module, imported on first use (see the docstring). The modules are private
# but `admin`, a command (`python -m backbone.kafka.admin`). No public name may be a submodule's
# name: importing that submodule would set the package attribute to the module.
_MODULES = {
    "admin": ("TopicSettings", "ensure_topics"),
    "_deadletter": ("DeadLetterWriter", "dead_letter_record"),
    "_depth": ("dead_letter_depth", "update_dead_letter_gauge"),
    "_failures": (
        "Failure",
        "Kind",
        "PermanentError",
        "TransientError",
        "classify",
        "register_transient",
    ),
    "_message": ("BatchHandler", "Headers", "Message", "encode_headers"),
    "_offsets": ("high_watermarks", "partitions_of", "read_between", "reader"),
    "_partitioner": ("KeyPartitioner", "murmur2"),
    "_processor": ("MessageProcessor",),
    "_producer": ("BrokerUnavailable", "Delivered", "OutgoingRecord", "Producer"),
    "_retry": ("Outcome", "handle_with_retries"),
    "_waiting": ("TransientWait", "retry_transient"),
}

__all__ = [
    "BatchHandler",
    "BrokerUnavailable",
    "DeadLetterWriter",
    "Delivered",
    "Failure",
    "Headers",
    "KeyPartitioner",
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
    "murmur2",
    "partitions_of",
    "read_between",
    "reader",
    "register_transient",
    "retry_transient",
    "update_dead_letter_gauge",
]


__getattr__, __dir__ = lazy_exports(__name__, _MODULES, __all__)
