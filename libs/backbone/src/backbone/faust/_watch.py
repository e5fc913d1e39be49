"""Consumer lag per partition and dead-letter depth for a Faust consumer group, kept in backbone.

Lag is the fetch high-water mark (right on Apache Kafka and on the embedded broker) minus the next
offset the agent has to finish. It is set after every event, and a periodic timer refreshes it for
every assigned partition, so a stuck handler or an idle partition still shows the truth.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from backbone import metrics
from backbone.kafka import update_dead_letter_gauge
from backbone.logging import get_logger
from backbone.settings import KafkaSettings

log = get_logger(__name__)

DEFAULT_INTERVAL_S = 15.0


class ConsumerWatch:
    """Tracks the next offset to finish per partition and publishes lag and DLQ depth."""

    def __init__(self, app: faust.App, group: str, kafka: KafkaSettings | None) -> None:
        self.app = app
        self.group = group
        self.kafka = kafka
        self._next: dict[tuple[str, int], int] = {}

    def _highwater(self, topic: str, partition: int) -> int | None:
        try:
            value = self.app.consumer.highwater(faust.types.TP(topic, partition))
        except Exception:  # not started, or the partition just moved elsewhere
            return None
        return int(value) if value is not None else None

    def finished(self, topic: str, partition: int, offset: int) -> None:
        """The agent is done with `offset` (handled or dead-lettered): update that partition."""
        self._next[(topic, partition)] = offset + 1
        highwater = self._highwater(topic, partition)
        if highwater is not None:
            self._set(topic, partition, highwater - (offset + 1))

    def _set(self, topic: str, partition: int, lag: int) -> None:
        metrics.CONSUMER_LAG.labels(self.group, topic, str(partition)).set(max(lag, 0))

    async def refresh_lag(self) -> None:
        """Lag of every assigned partition (position when nothing was finished here yet)."""
        consumer: Any = self.app.consumer
        for tp in list(consumer.assignment()):
            highwater = self._highwater(tp.topic, tp.partition)
            if highwater is None:
                continue
            done = self._next.get((tp.topic, tp.partition))
            if done is None:
                position = await consumer.position(tp)
                if position is None:
                    continue
                done = int(position)
            self._set(tp.topic, tp.partition, highwater - done)

    async def refresh(self) -> None:
        """One periodic tick: lag, then dead-letter depth; failures only logged."""
        try:
            await self.refresh_lag()
        except Exception as exc:
            log.warning("consumer_watch.lag_failed", group=self.group, error=str(exc)[:200])
        if self.kafka is None:
            return
        try:
            async with asyncio.timeout(max(self.kafka.request_timeout_ms / 1000, 5.0) * 2):
                await update_dead_letter_gauge(self.kafka, self.group)
        except Exception as exc:
            log.warning("consumer_watch.dlq_depth_failed", group=self.group, error=str(exc)[:200])


def watch_consumer(
    app: faust.App,
    group: str,
    kafka: KafkaSettings | None,
    *,
    interval_s: float = DEFAULT_INTERVAL_S,
    name: str | None = None,
) -> ConsumerWatch:
    """A ConsumerWatch whose `refresh` runs every `interval_s` on every worker of the app."""
    watch = ConsumerWatch(app, group, kafka)

    async def tick() -> None:
        await watch.refresh()

    tick.__name__ = tick.__qualname__ = (name or f"{group}_watch").replace(".", "_")
    app.timer(interval_s, on_leader=False, name=name or f"{group}.watch")(tick)
    return watch
