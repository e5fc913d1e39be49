"""Fixtures of the `dlq` tests: real dead letters made by a failing Faust consumer, a CLI driver."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import pytest

from backbone.dlq import main
from backbone.kafka import Message, PermanentError
from backbone.settings import KafkaSettings
from contracts import headers as h
from contracts.topics import dlq_topic
from devstack.testing import wait_for_records

from .support import (
    CREATED,
    UPDATED,
    DeadLetters,
    Result,
    group_topics,
    produce,
    record,
    running,
)


@pytest.fixture(scope="package")
async def dead_letters(kafka_settings: KafkaSettings) -> DeadLetters:
    """Nine dead letters of a fresh group: six, then (after `between`) three more."""
    tag = uuid.uuid4().hex[:8]
    group, source = f"dlqt-{tag}", f"dlqt-src-{tag}"
    await group_topics(kafka_settings, group, source)

    async def handler(messages: Sequence[Message]) -> None:
        raise PermanentError(f"cannot handle {messages[0].header(h.EVENT_ID)}")

    first = [record(f"a{i}-{tag}", CREATED if i % 2 == 0 else UPDATED) for i in range(5)]
    # One payload that is not UTF-8 at all: `show --raw` must give back exactly these bytes.
    first.append(record(f"a5-{tag}", UPDATED, value=b"\x89PNG\r\n\x1a\n\x00\xfe" + tag.encode()))
    second = [record(f"b{i}-{tag}", CREATED) for i in range(3)]
    async with running(kafka_settings, group, source, handler):
        await produce(kafka_settings, source, first)
        await wait_for_records(kafka_settings, dlq_topic(group), len(first))
        between = datetime.now(UTC)
        await produce(kafka_settings, source, second)
        dead = await wait_for_records(kafka_settings, dlq_topic(group), len(first) + len(second))
        after = datetime.now(UTC)
    found = DeadLetters(group, source, first, second, between, after)
    found.entries = {m.header(h.EVENT_ID) or "": f"{m.partition}:{m.offset}" for m in dead}
    return found


@pytest.fixture
def dlq(kafka_settings: KafkaSettings) -> Callable[..., Awaitable[Result]]:
    """Run `dlq` in-process (`main(argv)`, in a thread: it runs its own event loop)."""

    async def run(*argv: str, kafka: KafkaSettings | None = None) -> Result:
        out, err, raw = io.StringIO(), io.StringIO(), io.BytesIO()
        code = await asyncio.to_thread(
            main,
            list(argv),
            kafka=kafka or kafka_settings,
            stdout=out,
            stderr=err,
            raw_stdout=raw,
        )
        return Result(code, out.getvalue(), err.getvalue(), raw.getvalue())

    return run
