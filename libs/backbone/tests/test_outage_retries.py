"""Outages are waited out in order, a poison message still reaches the DLQ: the processor on a
real broker, with handlers failing on real connections (a PostgreSQL port nobody listens on)."""

from __future__ import annotations

import socket
from collections.abc import Sequence

import psycopg
import pytest

from backbone import readiness
from backbone.kafka import DeadLetterWriter, Message, MessageProcessor, Producer
from backbone.settings import KafkaSettings, RetrySettings
from contracts import headers as h
from contracts.topics import dlq_topic
from devstack.testing import read_topic

from .support import group_topics

pytestmark = pytest.mark.integration

# Three tries before the DLQ, 0.2 s at most between outage tries: a test outage of 8 failed
# tries is past the bounded budget more than twice over.
RETRY = RetrySettings(
    max_attempts=3,
    backoff_initial_s=0.01,
    backoff_max_s=0.02,
    transient_backoff_initial_s=0.01,
    transient_backoff_max_s=0.2,
)
OUTAGE_TRIES = 8


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again at once: connections are refused


class Database:
    """A real database that is "down" (a port with no listener) for the first `down_for` tries."""

    def __init__(self, url: str, down_for: int) -> None:
        self.url, self.down_for, self.tries = url, down_for, 0
        self.dead = f"postgresql://postgres@127.0.0.1:{_dead_port()}/postgres"

    async def query(self) -> None:
        self.tries += 1
        url = self.dead if self.tries <= self.down_for else self.url
        async with await psycopg.AsyncConnection.connect(url, connect_timeout=2) as conn:
            await conn.execute("SELECT 1")


def _messages(topic: str, values: list[bytes]) -> list[Message]:
    return [
        Message(topic, 0, i, None, v, ((h.EVENT_ID, v),), 1_700_000_000_000)
        for i, v in enumerate(values)
    ]


async def test_an_outage_retries_the_whole_batch_in_order_and_dead_letters_nothing(
    kafka_settings: KafkaSettings, database_url: str, unique: str
) -> None:
    group, topic = f"og-{unique}", f"ot-{unique}"
    await group_topics(kafka_settings, group, topic, partitions=1)
    db = Database(database_url, down_for=OUTAGE_TRIES)
    batches: list[list[bytes]] = []
    stalled_during: list[list[str]] = []

    values = [f"m{i}".encode() for i in range(6)]

    async def batch(messages: Sequence[Message]) -> None:
        assert isinstance(messages, list)
        if len(messages) < len(values):
            raise AssertionError("an outage must not split the batch into single messages")
        batches.append([m.value for m in messages])
        stalled_during.append(readiness.problems())
        await db.query()

    producer = Producer(kafka_settings)
    processor = MessageProcessor(group, batch, RETRY, DeadLetterWriter(producer, group))
    assert await processor.process_batch(_messages(topic, values)) == [True] * 6
    await producer.stop()

    assert batches == [values] * (OUTAGE_TRIES + 1)  # never split, never reordered
    assert f"{group} waits for postgresql" in stalled_during[1][0]
    assert readiness.problems() == []
    assert await read_topic(kafka_settings, dlq_topic(group)) == []


async def test_a_single_message_waits_out_an_outage_past_its_retry_budget(
    kafka_settings: KafkaSettings, database_url: str, unique: str
) -> None:
    group, topic = f"og-{unique}", f"ot-{unique}"
    await group_topics(kafka_settings, group, topic, partitions=1)
    db = Database(database_url, down_for=OUTAGE_TRIES)

    async def one(messages: Sequence[Message]) -> None:
        assert len(messages) == 1
        await db.query()

    producer = Producer(kafka_settings)
    processor = MessageProcessor(group, one, RETRY, DeadLetterWriter(producer, group))
    assert await processor.process(_messages(topic, [b"m"])[0]) is True
    await producer.stop()
    assert db.tries == OUTAGE_TRIES + 1 > RETRY.max_attempts
    assert await read_topic(kafka_settings, dlq_topic(group)) == []


async def test_a_poison_message_met_by_an_outage_is_dead_lettered_alone_once_it_ends(
    kafka_settings: KafkaSettings, database_url: str, unique: str
) -> None:
    group, topic = f"og-{unique}", f"ot-{unique}"
    await group_topics(kafka_settings, group, topic, partitions=1)
    db = Database(database_url, down_for=OUTAGE_TRIES)
    handled: list[bytes] = []
    batch_sizes: list[int] = []

    async def batch(messages: Sequence[Message]) -> None:
        batch_sizes.append(len(messages))
        await db.query()  # the database first: during the outage nothing gets further
        for m in messages:
            if m.value == b"poison":
                raise ValueError("this event breaks the contract every time")
        handled.extend(m.value or b"" for m in messages)

    producer = Producer(kafka_settings)
    processor = MessageProcessor(group, batch, RETRY, DeadLetterWriter(producer, group))
    values = [b"a", b"b", b"poison", b"c", b"d", b"e"]
    outcome = await processor.process_batch(_messages(topic, values))
    await producer.stop()

    assert outcome == [True, True, False, True, True, True]
    assert handled == [b"a", b"b", b"c", b"d", b"e"]
    # Whole while the database was down, split only once it answered and the poison failed.
    assert batch_sizes[: OUTAGE_TRIES + 1] == [6] * (OUTAGE_TRIES + 1)
    [dead] = await read_topic(kafka_settings, dlq_topic(group))
    assert dead.value == b"poison"
    assert dead.header(h.DLQ_ERROR_CLASS) == "builtins.ValueError"
    assert dead.header(h.DLQ_ATTEMPTS) == str(RETRY.max_attempts)
