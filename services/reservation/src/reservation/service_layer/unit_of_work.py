"""The unit of work: one transaction holding the state change, the inbox row and the outbox rows."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.db.inbox import claim_many
from reservation.adapters.facts import FactWriter
from reservation.adapters.orders import OrderRepository
from reservation.adapters.refund_store import RefundStore
from reservation.adapters.repository import Repository


class UnitOfWork:
    """`async with uow:` opens a transaction; it commits on a clean exit and rolls back on error.

    Writes the repositories stage (payment attempts, outbox facts) go in just before the commit.
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], correlation_id: str | None = None
    ) -> None:
        self._sessions = sessions
        self._correlation_id = correlation_id
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        """The open session (only inside `async with`)."""
        assert self._session is not None, "use the unit of work inside `async with`"
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._sessions()
        await self._session.begin()
        self.repo = Repository(self._session)
        self.orders = OrderRepository(self._session)
        self.refunds = RefundStore(self._session)
        self.facts = FactWriter(self._session, self._correlation_id)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        assert session is not None
        try:
            if exc_type is None:
                await self.repo.flush()
                await self.facts.flush()
                await session.commit()
            else:
                await session.rollback()
        finally:
            await session.close()

    async def claim_many(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """The inbox claims of several events, in this transaction: the ids not processed before."""
        return await claim_many(self.session, consumer, event_ids)
