"""The shared unit of work on real PostgreSQL: only `commit()` keeps anything."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backbone.db import (
    SqlUnitOfWork,
    driver_connection,
    driver_execute,
    driver_execute_many,
    driver_fetch_all,
    make_engine,
    session_factory,
)
from backbone.settings import DatabaseSettings

pytestmark = pytest.mark.integration


class NotesUnitOfWork(SqlUnitOfWork):
    """A unit of work with one staged write, as services buffer outbox rows."""

    staged: list[str]

    def _bind(self, session: AsyncSession) -> None:
        self.staged = []

    async def _stage(self) -> None:
        for note in self.staged:
            await self.session.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": note})


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(DatabaseSettings(url=SecretStr(database_url)))
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (body text NOT NULL)"))
    yield engine
    await engine.dispose()


async def _notes(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT body FROM notes ORDER BY body"))).scalars())


async def test_commit_keeps_direct_and_staged_writes(engine: AsyncEngine) -> None:
    uow = NotesUnitOfWork(session_factory(engine))
    async with uow:
        await uow.session.execute(text("INSERT INTO notes VALUES ('direct')"))
        uow.staged.append("staged")
        await uow.commit()
    assert uow.committed
    assert await _notes(engine) == ["direct", "staged"]


async def test_leaving_without_commit_rolls_back(engine: AsyncEngine) -> None:
    uow = NotesUnitOfWork(session_factory(engine))
    async with uow:
        await uow.session.execute(text("INSERT INTO notes VALUES ('direct')"))
        uow.staged.append("staged")
    assert not uow.committed
    assert await _notes(engine) == []


async def test_an_exception_rolls_back_and_propagates(engine: AsyncEngine) -> None:
    uow = NotesUnitOfWork(session_factory(engine))

    async def fails() -> None:
        async with uow:
            await uow.session.execute(text("INSERT INTO notes VALUES ('direct')"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fails()
    assert await _notes(engine) == []


async def test_a_unit_of_work_is_reusable_and_each_block_is_its_own_transaction(
    engine: AsyncEngine,
) -> None:
    uow = NotesUnitOfWork(session_factory(engine))
    async with uow:
        await uow.session.execute(text("INSERT INTO notes VALUES ('a')"))
        await uow.commit()
    async with uow:
        await uow.session.execute(text("INSERT INTO notes VALUES ('b')"))
    assert await _notes(engine) == ["a"]


async def test_driver_statements_run_in_the_unit_of_works_transaction(engine: AsyncEngine) -> None:
    """Plain SQL on the session's psycopg connection (backbone.db's driver statements) is part
    of the same transaction: the session's own statements see it, and it commits or rolls back
    with the rest."""
    uow = NotesUnitOfWork(session_factory(engine))
    async with uow:
        await driver_execute(uow.session, "INSERT INTO notes VALUES (%(b)s)", {"b": "kept"})
        seen = await uow.session.execute(text("SELECT body FROM notes"))
        assert list(seen.scalars()) == ["kept"]
        await uow.commit()
    async with uow:
        await driver_execute_many(
            uow.session, "INSERT INTO notes VALUES (%(b)s)", [{"b": "x"}, {"b": "y"}]
        )
        rows = await driver_fetch_all(uow.session, "SELECT body FROM notes ORDER BY body", {})
        assert rows == [("kept",), ("x",), ("y",)]
    assert await _notes(engine) == ["kept"]


async def test_a_sessions_next_transaction_gets_its_own_driver_connection(
    engine: AsyncEngine,
) -> None:
    """The psycopg connection is looked up once per transaction: after a commit, the session's
    next transaction, on another pooled connection, is the one written to."""
    async with session_factory(engine)() as session:
        await session.begin()
        first = await driver_connection(session)
        await driver_execute(session, "INSERT INTO notes VALUES ('first')", {})
        await session.commit()
        # The first connection is back in the pool: held here, the session's next transaction
        # has to take another one.
        async with engine.connect() as other:
            await other.execute(text("SELECT 1"))
            await session.begin()
            assert await driver_connection(session) is not first
            await driver_execute(session, "INSERT INTO notes VALUES ('second')", {})
            seen = await session.execute(text("SELECT body FROM notes ORDER BY body"))
            assert list(seen.scalars()) == ["first", "second"]
            await session.rollback()
    assert await _notes(engine) == ["first"]
