"""A group dead-letters while its dependency is down; once fixed, a replay is processed once."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

from backbone.db import InboxEntry, claim, make_engine, session_factory
from backbone.kafka import Message, PermanentError
from backbone.settings import DatabaseSettings, KafkaSettings
from contracts import headers as h
from contracts.topics import dlq_topic
from devstack.testing import eventually, wait_for_records

from .support import CREATED, Dlq, group_topics, produce, record, running

pytestmark = pytest.mark.integration


def create_schema(database_url: str) -> None:
    """The inbox, plus tables counting deliveries and applied effects per event."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    SQLModel.metadata.create_all(engine, tables=[InboxEntry.__table__])  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE deliveries (id bigserial PRIMARY KEY, event_id text)")
        conn.exec_driver_sql("CREATE TABLE effects (event_id text PRIMARY KEY, applied int)")
    engine.dispose()


async def test_replayed_message_is_processed_once_and_replaying_again_changes_nothing(
    kafka_settings: KafkaSettings, database_url: str, dlq: Dlq
) -> None:
    tag = uuid.uuid4().hex[:8]
    group, source = f"dlqe-{tag}", f"dlqe-src-{tag}"
    await group_topics(kafka_settings, group, source)
    create_schema(database_url)
    engine = make_engine(DatabaseSettings(url=SecretStr(database_url)))
    sessions = session_factory(engine)
    dependency_up = False

    async def handler(messages: Sequence[Message]) -> None:
        if not dependency_up:
            raise PermanentError("the dependency is down")
        for message in messages:
            event_id = message.header(h.EVENT_ID) or ""
            async with sessions() as session, session.begin():
                await session.execute(
                    text("INSERT INTO deliveries (event_id) VALUES (:e)"), {"e": event_id}
                )
            # The inbox claim and the effect commit together: a duplicate is a no-op.
            async with sessions() as session, session.begin():
                if await claim(session, group, event_id):
                    await session.execute(
                        text("INSERT INTO effects VALUES (:e, 1)"), {"e": event_id}
                    )

    async def counts(event_id: str) -> tuple[int, int]:
        async with sessions() as session:
            delivered = await session.scalar(
                text("SELECT count(*) FROM deliveries WHERE event_id = :e"), {"e": event_id}
            )
            applied = await session.scalar(
                text("SELECT coalesce(sum(applied), 0) FROM effects WHERE event_id = :e"),
                {"e": event_id},
            )
        return int(delivered or 0), int(applied or 0)

    def reaches(event_id: str, expected: tuple[int, int]) -> Callable[[], Awaitable[bool]]:
        async def probe() -> bool:
            return await counts(event_id) == expected

        return probe

    wanted, other = record(f"e1-{tag}", CREATED), record(f"e2-{tag}", CREATED)
    try:
        async with running(kafka_settings, group, source, handler):
            await produce(kafka_settings, source, [wanted, other])
            await wait_for_records(kafka_settings, dlq_topic(group), 2)
            dependency_up = True  # the operator fixed the cause

            first = await dlq("replay", group, "--event-id", wanted.event_id, "--yes")
            assert first.code == 0, first.err
            assert "already replayed" not in first.err
            await eventually(reaches(wanted.event_id, (1, 1)), what="one delivery")

            second = await dlq("replay", group, "--event-id", wanted.event_id, "--yes")
            assert second.code == 0, second.err
            assert "already replayed" in second.err
            # Delivered again, applied still once: the inbox absorbed the duplicate.
            await eventually(reaches(wanted.event_id, (2, 1)), what="redelivery")
        assert await counts(wanted.event_id) == (2, 1)
        assert await counts(other.event_id) == (0, 0)  # never selected, never replayed
        listed = await dlq("list", group, "--json")
        assert len(listed.json_lines()) == 2  # replaying does not consume the dead letters
    finally:
        await engine.dispose()
