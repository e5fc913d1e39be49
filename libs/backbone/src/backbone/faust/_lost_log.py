"""A partition whose log no longer reaches the consumer's position is read again from its start.

A broker can lose records it had acknowledged: the embedded broker keeps everything in memory and
starts empty after a restart; on Apache Kafka an unclean leader election truncates a log. The
consumer's position (and the group's committed offset, which survives, or is committed again from
the consumer's memory after the restart) then lies beyond the end of the log:

- Apache Kafka answers a fetch there "offset out of range", and aiokafka resets the position by
  `auto_offset_reset` (ours is "earliest").
- The embedded broker answers it with no records and a high-water mark below the position
  (measured: position 50, high-water mark 5, no error). The consumer would wait at 50 and never
  hand on the records the new log holds below it: events the operator republished to repair the
  loss (`backbone.db.requeue`, `reservation reconcile`), and new events, until the log grows past
  50.

In both cases Faust also keeps the old read offset, which drops every record below it, and the old
committed offset, below which acknowledged offsets are never committed.

`LostLogGuard` wraps aiokafka's fetcher. After each fetch, a partition whose position is beyond the
high-water mark the broker just reported is reset the way an out-of-range answer resets it, and
for each partition reset either way, `forget` is called to drop Faust's bookkeeping for it, as a
revoke does. The partition is then read from its start; our consumers are idempotent (the inbox),
so what they applied before the loss is skipped, and what they had not is applied.

It wraps `Fetcher._proc_fetch_request` and reads `_default_reset_strategy`, private names of
aiokafka, used here and by `FetchWait`, checked by `test_faust_app.py` against the aiokafka in use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import structlog
from aiokafka import TopicPartition
from aiokafka.consumer.fetcher import OffsetResetStrategy

log = structlog.get_logger(__name__)


class LostLogGuard:
    """Resets a partition's position when the broker no longer holds the log up to it."""

    def __init__(self, forget: Callable[[TopicPartition], None]) -> None:
        self._forget = forget

    def install(self, fetcher: Any) -> None:
        """Guard a started aiokafka consumer's fetcher (`consumer._fetcher`)."""
        process: Callable[..., Awaitable[bool]] = fetcher._proc_fetch_request

        async def guarded(assignment: Any, node_id: int, request: Any) -> bool:
            brought = await process(assignment, node_id, request)
            if assignment.active:
                for tp, fetched_at in _fetched(request):
                    if self._reset(fetcher, assignment.state_value(tp), tp, fetched_at):
                        self._forget(tp)
            return brought

        fetcher._proc_fetch_request = guarded

    @staticmethod
    def _reset(fetcher: Any, state: Any, tp: TopicPartition, fetched_at: int) -> bool:
        """Whether this fetch's answer reset the partition's position (or now should)."""
        if state.awaiting_reset:
            # The broker answered "out of range" and aiokafka reset the position: a partition
            # awaiting a reset has no position and is never in a fetch request.
            log.warning(
                "kafka.position_out_of_range",
                topic=tp.topic,
                partition=tp.partition,
                position=fetched_at,
            )
            return True
        highwater = state.highwater
        if (
            not state.has_valid_position
            or state.position != fetched_at
            or highwater is None
            or fetched_at <= highwater
        ):
            return False
        strategy = fetcher._default_reset_strategy
        log.warning(
            "kafka.position_past_the_end_of_the_log",
            topic=tp.topic,
            partition=tp.partition,
            position=fetched_at,
            highwater=highwater,
            reading_from_the_start=strategy != OffsetResetStrategy.NONE,
        )
        if strategy == OffsetResetStrategy.NONE:
            return False
        state.await_reset(strategy)
        return True


def _fetched(request: Any) -> Iterator[tuple[TopicPartition, int]]:
    """Each partition of a fetch request with the offset it was fetched from."""
    for topic, partitions in request.topics:
        for partition, offset, *_ in partitions:
            yield TopicPartition(topic, partition), offset
