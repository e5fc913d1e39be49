"""The shared unit of work on real PostgreSQL: only `commit()` keeps anything."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from backbone.db import SqlUnitOfWork, make_engine, session_factory
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
