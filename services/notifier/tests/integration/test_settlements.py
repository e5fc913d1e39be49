"""Settling on the real PostgreSQL (`SqlSettlements`): one statement marks a batch's sent,
refused and errored rows at once, kept without a transaction around it; a settle that fails
drops its connection, and the next one takes a new connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from uuid import uuid4

import psycopg
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from backbone.db import make_engine, session_factory
from backbone.kafka import classify
from backbone.settings import DatabaseSettings
from notifier.adapters.migrate import upgrade
from notifier.adapters.repository import SqlSettlements
from notifier.adapters.templates import Renderer
from notifier.adapters.unit_of_work import SqlNotificationsUnitOfWork
from notifier.domain.compose import plan_email

from .support import confirmed, notification

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    database = DatabaseSettings(url=SecretStr(database_url))
    await asyncio.to_thread(upgrade, database)
    engine = make_engine(database, application_name="notifier-settlements-test")
    yield engine
    await engine.dispose()


async def _claimed(engine: AsyncEngine, unique: str, count: int) -> list[str]:
    """`count` notification rows claimed (`sending`), as the handler claims them."""
    renderer = Renderer("notifier.test")
    emails = [
        renderer.render(
            plan_email(
                confirmed(unique, f"u{n}-{uuid4().hex[:6]}@example.test"),
                operator_email="ops@studio.test",
                checkout_url="http://shop.test/",
            )
        )
        for n in range(count)
    ]
    async with SqlNotificationsUnitOfWork(session_factory(engine)) as uow:
        await uow.notifications.claim_many(emails)
        await uow.commit()
    return [str(r.email.event_id) for r in emails]


def _row(database_url: str, event_id: str) -> tuple[str, str | None]:
    row = notification(database_url, event_id)
    assert row is not None
    return row["status"], row["last_error"]


async def test_one_settle_marks_sent_refused_and_errored_rows(
    engine: AsyncEngine, database_url: str, unique: str
) -> None:
    a, b, refused, deferred = await _claimed(engine, unique, 4)

    async with aclosing(SqlSettlements(engine)) as settlements:
        await settlements.settle([a, b], {refused: "554 no such user"}, [(deferred, "451 later")])

    assert _row(database_url, a) == _row(database_url, b) == ("sent", None)
    assert _row(database_url, refused) == ("failed", "554 no such user")
    assert _row(database_url, deferred) == ("sending", "451 later")
    # An error is recorded on a row that is still `sending` only: a sent row keeps no error.
    async with aclosing(SqlSettlements(engine)) as settlements:
        await settlements.settle([], {}, [(a, "451 later")])
    assert _row(database_url, a) == ("sent", None)


async def test_a_settle_that_fails_drops_its_connection_and_the_next_one_reconnects(
    engine: AsyncEngine, database_url: str, unique: str
) -> None:
    first, second = await _claimed(engine, unique, 2)
    async with aclosing(SqlSettlements(engine)) as settlements:
        await settlements.settle([first], {}, [])
        # The server ends the settle's session (as a failover or an admin would).
        with psycopg.connect(database_url, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'notifier-settlements-test' AND pid <> pg_backend_pid()"
            ).fetchall()
        assert ended
        with pytest.raises(psycopg.OperationalError) as lost:
            await settlements.settle([second], {}, [])
        assert classify(lost.value).dependency == "postgresql"  # an outage: waited out
        assert _row(database_url, second) == ("sending", None)
        await settlements.settle([second], {}, [])
    assert _row(database_url, first) == _row(database_url, second) == ("sent", None)
