"""The Faust adaptation: the one place where our workers differ from a plain faust-streaming app.

faust-streaming is the worker runtime. Where its behaviour breaks a guarantee of ours, this module
works around it, and nothing else in the repository reaches into Faust (docs/adr/0011):

1. Faust acknowledges an event once the agent moves past it, even when the agent raised (its
   supervisor restarts the agent and the event is committed, never redelivered). So the agent
   never raises: a batch goes through `MessageProcessor` (retries, then the dead-letter topic,
   awaiting the broker's ack) before any of its events is acknowledged (ADR 0003).
2. Faust hard-codes `fetch_max_wait_ms=1500` in its aiokafka consumer thread; the embedded
   broker often waits all of it (a 420 ms median delivery delay). `BackboneApp`'s transport sets
   `KafkaSettings.fetch_max_wait_ms` on the consumer before it starts (ADR 0007), and once it
   started, lengthens the wait to `idle_fetch_max_wait_ms` while the consumer is idle (`FetchWait`),
   so an idle worker does not fetch ten times a second.
3. Agents with Tables or `group_by` lost events when killed or rebalanced (faust-streaming #216,
   #221, #527); a stateless agent lost none. So no Tables, no `group_by`, no leader topic, and
   topics declared by our start-up code from the contracts registry; state is in PostgreSQL.
4. Batches. Faust hands an agent one event at a time, and `stream.take(n, within)` lingers up to
   `within` for a full buffer and acknowledges the buffer in a `finally`, even when the handler
   raised. So we read with `stream.noack()`, queue what arrives while a batch is handled, hand it
   to the batch handler as the next batch (at most `batch_max_size`; an idle agent handles a lone
   event at once, no linger) and acknowledge each event only once its batch is handled or
   dead-lettered, in arrival order: Faust commits what a one-at-a-time loop would have.
5. Settings that hold on Apache Kafka and the embedded broker alike: short group sessions (time to
   Ready follows the session timeout), frequent commits (a small redelivery window after a kill),
   acks=all, raw bytes, our log format. Run `faust worker --without-web`: `web_enabled=False`
   alone still binds port 6066.
6. A broker that lost records it had acknowledged (the embedded broker restarted; an unclean
   leader election) leaves the group's position beyond the end of the new log. The embedded
   broker answers a fetch there with no records, not "out of range", and after either answer
   Faust's read offset drops every record below the old position. `LostLogGuard` resets the
   position to the start, as the out-of-range answer does, and Faust's bookkeeping for the
   partition is dropped as on a revoke; the inbox skips what was applied before the loss.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import faust
from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from backbone.faust._fetch_wait import FetchWait
from backbone.faust._lost_log import LostLogGuard
from backbone.faust._watch import DEFAULT_INTERVAL_S, watch_consumer
from backbone.kafka import BatchHandler, DeadLetterWriter, Message, MessageProcessor, Producer
from backbone.logging import faust_logging_config
from backbone.settings import KafkaSettings, RetrySettings

DEFAULT_BATCH_MAX_SIZE = 200


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):  # type: ignore[misc]
    """Faust's aiokafka consumer with our fetch wait (Faust hard-codes fetch_max_wait_ms=1500) and
    the lost-log guard (reason 6 above)."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka hands this to its fetcher when the consumer starts, which is after this.
        consumer._fetch_max_wait_ms = self.app.fetch_max_wait_ms
        fetch_wait: FetchWait | None = self.app.fetch_wait
        lost_log = LostLogGuard(self._forget_partition)
        start = consumer.start

        async def start_then_guard_the_fetcher() -> None:
            await start()
            lost_log.install(consumer._fetcher)
            if fetch_wait is not None:
                fetch_wait.install(consumer._fetcher)

        consumer.start = start_then_guard_the_fetcher
        return consumer

    def _forget_partition(self, tp: TopicPartition) -> None:
        """Called on this thread's loop; Faust's bookkeeping lives on the app's loop, where this
        runs before any record fetched from the reset position is handed on."""
        self.parent_loop.call_soon_threadsafe(_forget_read_offsets, self.consumer, TP(*tp))


def _forget_read_offsets(consumer: Any, tp: TP) -> None:
    """Drop Faust's read, acknowledged and committed offsets of a partition whose position was
    reset below them, as Faust does for a revoked partition: else it would drop every record
    below the old read offset and never commit below the old committed one."""
    for offsets in (
        consumer._read_offset,
        consumer._committed_offset,
        consumer._acked,
        consumer._acked_index,
        consumer._gap,
    ):
        offsets.pop(tp, None)


class _Consumer(faust_aiokafka.Consumer):  # type: ignore[misc]
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):  # type: ignore[misc]
    Consumer = _Consumer


class BackboneApp(faust.App):  # type: ignore[misc]
    """faust.App on the aiokafka transport, with a bounded fetch wait (reason 2 above)."""

    fetch_max_wait_ms: int = 1500
    fetch_wait: FetchWait | None = None  # longer waits once idle (reason 2 above)

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


def create_faust_app(
    app_id: str,
    kafka: KafkaSettings,
    *,
    commit_every: int = 100,
    commit_interval_s: float = 1.0,
    **overrides: Any,
) -> faust.App:
    """A stateless Faust app: consumer group `app_id`, raw bytes, acks=all, no Tables (reasons 3
    and 5 above); `overrides` are Faust settings."""
    options: dict[str, Any] = {
        "broker": [f"kafka://{server.strip()}" for server in kafka.bootstrap_servers.split(",")],
        "broker_session_timeout": kafka.session_timeout_ms / 1000,
        "broker_heartbeat_interval": kafka.heartbeat_interval_ms / 1000,
        "broker_request_timeout": max(kafka.request_timeout_ms / 1000, 10.0),
        "broker_max_poll_records": kafka.max_poll_records,
        "broker_commit_every": commit_every,
        "broker_commit_interval": commit_interval_s,
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        "topic_allow_declare": False,
        "topic_disable_leader": True,
        "web_enabled": False,
        "key_serializer": "raw",
        "value_serializer": "raw",
        # Keep our log format (JSON off a terminal) once the worker configures logging.
        "logging_config": faust_logging_config(),
    }
    if kafka.sasl_mechanism:
        options["broker_credentials"] = faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value() if kafka.sasl_password else None,
            mechanism=kafka.sasl_mechanism,
        )
    options.update(overrides)
    app = BackboneApp(app_id, **options)
    app.fetch_max_wait_ms = kafka.fetch_max_wait_ms
    app.fetch_wait = FetchWait(
        kafka.fetch_max_wait_ms, kafka.idle_fetch_max_wait_ms, kafka.idle_fetch_after_ms / 1000
    )
    return app


def message_from_faust(event: Any) -> Message:
    """Our Message from a Faust event: the raw key, value and headers as the broker holds them."""
    raw = event.message
    headers = raw.headers or ()
    pairs = headers.items() if hasattr(headers, "items") else headers
    return Message(
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        key=raw.key,
        value=raw.value,
        headers=tuple((k, v if v is not None else b"") for k, v in pairs),
        timestamp_ms=int(raw.timestamp * 1000) if raw.timestamp else -1,
    )


def resilient_agent(
    app: faust.App,
    handler: BatchHandler,
    *,
    topics: Sequence[str],
    producer: Producer,
    retry: RetrySettings | None = None,
    name: str | None = None,
    dead_letters: DeadLetterWriter | None = None,
    watch_interval_s: float = DEFAULT_INTERVAL_S,
    batch_max_size: int = DEFAULT_BATCH_MAX_SIZE,
) -> MessageProcessor:
    """Register a stateless agent on `topics` that hands what arrived to `handler` in batches.

    A batch is what arrived while the last one was handled, at most `batch_max_size` (1: one
    message at a time); a lone message is a batch of one. The processor tries the batch once,
    then halves on a failure that is not an outage, down to single messages with bounded retries
    and the dead-letter topic (MessageProcessor.process_batch), so `handler` runs a batch as one
    transaction and must be idempotent per message. `dead_letters` replaces the default writer.
    Lag per partition is set after every batch and, with the dead-letter topic's depth,
    refreshed every `watch_interval_s` (`watch_consumer`).
    """
    if batch_max_size < 1:
        raise ValueError("batch_max_size must be at least 1")
    group = str(app.conf.id)
    writer = dead_letters or DeadLetterWriter(producer, group)
    processor = MessageProcessor(group, handler, retry or RetrySettings(), writer)
    channel = app.topic(*topics, key_serializer="raw", value_serializer="raw")
    agent_name = name or f"{group}.agent"
    watch = watch_consumer(
        app, group, producer.settings, interval_s=watch_interval_s, name=f"{agent_name}.watch"
    )

    async def handle(events: list[Any]) -> None:
        messages = [message_from_faust(event) for event in events]
        await processor.process_batch(messages)
        last = {(m.topic, m.partition): m.offset for m in messages}
        for (topic, partition), offset in last.items():
            watch.finished(topic, partition, offset)

    async def agent(stream: Any) -> None:
        manual = stream.noack()  # acknowledged below, once each batch is done (reason 4)
        queue: asyncio.Queue[Any] = asyncio.Queue(batch_max_size)

        async def drain() -> None:
            while True:
                batch = [await queue.get()]
                while len(batch) < batch_max_size and not queue.empty():
                    batch.append(queue.get_nowait())
                # A failure here ends the agent with the batch unacknowledged, hence
                # uncommitted: never acknowledge on the way out of a cancelled handler, so the
                # next owner of the partitions gets the events.
                await handle(batch)
                for event in batch:
                    await manual.ack(event)

        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(drain(), name=f"{agent_name}.batches")
            async for event in manual.events():
                await queue.put(event)

    agent.__name__ = agent.__qualname__ = name or f"{group}_agent"
    app.agent(channel, name=agent_name)(agent)
    return processor
