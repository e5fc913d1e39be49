"""The unit of work every service uses: one convention, explicit `commit()`, rollback on exit.

    async with uow:
        ...                  # read, decide, stage writes
        await uow.commit()   # the only way anything is kept

Leaving the block without `commit()` (an exception, an early return) rolls everything back, so a
use case never half-commits by accident. Side effects outside the database (an HTTP call, an
e-mail) belong after the block, from what it recorded; never inside it with row locks held.

`AbstractUnitOfWork` is the shape use cases are written against; tests of a use case's decisions
drive it with a fake (in-memory repositories, `committed` inspected), and the PostgreSQL tests
cover `SqlUnitOfWork` and the repositories themselves.
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class AbstractUnitOfWork(abc.ABC):
    """One transaction: `commit()` keeps it, leaving the `async with` block without it discards it.

    Subclasses implement `_commit` and `rollback`; `_stage` (optional) writes what repositories
    buffered in memory just before the commit.
    """

    committed: bool = False

    async def __aenter__(self) -> Self:
        self.committed = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.committed:
            await self.rollback()

    async def commit(self) -> None:
        """Write what is staged and commit; once committed, leaving the block keeps it."""
        await self._stage()
        await self._commit()
        self.committed = True

    async def _stage(self) -> None:  # noqa: B027 - optional hook, nothing to stage by default
        """Write buffered changes (batched inserts, outbox rows) into the transaction."""

    @abc.abstractmethod
    async def _commit(self) -> None:
        """Commit the transaction."""

    @abc.abstractmethod
    async def rollback(self) -> None:
        """Discard the transaction (a no-op after a commit)."""


class SqlUnitOfWork(AbstractUnitOfWork):
    """A unit of work on one SQLAlchemy session: opened with `begin()`, closed on exit.

    Subclasses bind their repositories to `self.session` in `_bind`. Objects read inside stay
    usable after the block (the session factory does not expire them, and they are detached
    before a rollback would).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        """The open session (only inside `async with`)."""
        assert self._session is not None, "use the unit of work inside `async with`"
        return self._session

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self._session = self._sessions()
        await self._session.begin()
        self._bind(self._session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            session, self._session = self._session, None
            if session is not None:
                await session.close()

    def _bind(self, session: AsyncSession) -> None:
        """Bind the repositories of this unit of work to `session`."""

    async def _commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        """Discard the transaction; what was read stays readable (detached first)."""
        if self._session is None:
            return
        self._session.expunge_all()
        await self._session.rollback()
