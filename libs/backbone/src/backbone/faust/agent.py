"""Stateless Faust agents that retry and dead-letter before returning, since Faust acks on raise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import faust

from backbone.faust.batches import DEFAULT_MAX_SIZE, run_batches
from backbone.faust.lanes import run_lanes
from backbone.faust.watch import DEFAULT_INTERVAL_S, watch_consumer
from backbone.kafka.deadletter import DeadLetterWriter
from backbone.kafka.message import Message
from backbone.kafka.processor import BatchHandler, MessageProcessor
from backbone.kafka.producer import Producer
from backbone.kafka.retry import Handler
from backbone.settings import RetrySettings


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
    handler: Handler,
    *,
    topics: Sequence[str],
    producer: Producer,
    retry: RetrySettings | None = None,
    name: str | None = None,
    dead_letters: DeadLetterWriter | None = None,
    watch_interval_s: float = DEFAULT_INTERVAL_S,
    per_partition: bool = False,
    batch_handler: BatchHandler | None = None,
    batch_max_size: int = DEFAULT_MAX_SIZE,
) -> MessageProcessor:
    """Register an agent on `topics` that hands each event to `handler` through the processor.

    Faust acknowledges an event once the agent moves past it, even when the agent raised, so the
    processor retries and dead-letters (awaiting the broker's ack) before the loop moves on. The
    agent keeps no Faust state (no Tables, no group_by): those lost events under kills.
    `dead_letters` replaces the default writer (a subclass may count dead letters its own way).
    Consumer lag per partition is set after every event and, with the dead-letter topic's depth,
    refreshed every `watch_interval_s` (backbone.faust.watch).
    `per_partition`: handle the assigned partitions concurrently, each in order
    (backbone.faust.lanes); the handler must then be safe to run for several messages at once.
    `batch_handler`: handle what arrived while the last batch was handled (up to
    `batch_max_size`) in one try of `batch_handler`, split in halves if it fails, down to
    `handler` for single messages (backbone.faust.batches, MessageProcessor.process_batch).
    """
    if per_partition and batch_handler is not None:
        raise ValueError("choose per-partition lanes or batches, not both")
    group = str(app.conf.id)
    writer = dead_letters or DeadLetterWriter(producer, group)
    processor = MessageProcessor(
        group, handler, retry or RetrySettings(), writer, batch_handler=batch_handler
    )
    channel = app.topic(*topics, key_serializer="raw", value_serializer="raw")
    agent_name = name or f"{group}.agent"
    watch = watch_consumer(
        app,
        group,
        producer.settings,
        interval_s=watch_interval_s,
        name=f"{agent_name}.watch",
    )

    async def handle(event: Any) -> None:
        message = message_from_faust(event)
        await processor.process(message)
        watch.finished(message.topic, message.partition, message.offset)

    async def handle_batch(events: list[Any]) -> None:
        messages = [message_from_faust(event) for event in events]
        await processor.process_batch(messages)
        last = {(m.topic, m.partition): m.offset for m in messages}
        for (topic, partition), offset in last.items():
            watch.finished(topic, partition, offset)

    async def agent(stream: Any) -> None:
        if per_partition:
            await run_lanes(stream, handle)
            return
        if batch_handler is not None:
            await run_batches(stream, handle_batch, max_size=batch_max_size)
            return
        async for event in stream.events():
            await handle(event)

    agent.__name__ = agent.__qualname__ = name or f"{group}_agent"
    app.agent(channel, name=agent_name)(agent)
    return processor
