"""One database transaction: a recorded session and its outbox row commit together."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.db.outbox import enqueue
from checkout.adapters.repository import Repository


class UnitOfWork:
    """`async with uow:` opens a transaction; `commit()` ends it, leaving without it rolls back."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        """The open session."""
        assert self._session is not None, "use the unit of work inside `async with`"
        return self._session

    @property
    def repo(self) -> Repository:
        """Repository bound to this transaction."""
        return Repository(self.session)

    def publish(self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, str]]) -> None:
        """Queue a record in the outbox, in this transaction."""
        enqueue(self.session, topic, value, key=key, headers=headers)

    async def commit(self) -> None:
        """Commit everything done in this unit of work."""
        await self.session.commit()

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._sessions()
        await self._session.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        try:
            # Detach what was read first: a rollback would expire it, and callers use it after.
            self._session.expunge_all()
            await self._session.rollback()  # a no-op after commit()
        finally:
            await self._session.close()
            self._session = None
