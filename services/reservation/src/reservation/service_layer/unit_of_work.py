"""The unit of work: one transaction holding the state change, the inbox row and the outbox rows.

The shared convention (backbone.db.unit_of_work): `async with uow:` opens the transaction, `await
uow.commit()` keeps it, leaving the block without it rolls everything back.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.db.inbox import claim_many
from backbone.db.unit_of_work import SqlUnitOfWork
from reservation.adapters.facts import FactWriter
from reservation.adapters.orders import OrderRepository
from reservation.adapters.quota_store import QuotaStore
from reservation.adapters.refund_store import RefundStore
from reservation.adapters.repository import Repository


class UnitOfWork(SqlUnitOfWork):
    """Reservations, orders, refunds and facts bound to one transaction.

    Writes the repositories stage (payment attempts, outbox facts) go in just before the commit.
    """

    repo: Repository
    orders: OrderRepository
    refunds: RefundStore
    facts: FactWriter
    quotas: QuotaStore

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], correlation_id: str | None = None
    ) -> None:
        super().__init__(sessions)
        self._correlation_id = correlation_id

    def _bind(self, session: AsyncSession) -> None:
        self.repo = Repository(session)
        self.orders = OrderRepository(session)
        self.refunds = RefundStore(session)
        self.facts = FactWriter(session, self._correlation_id)
        self.quotas = QuotaStore(session)

    async def _stage(self) -> None:
        await self.repo.flush()
        await self.facts.flush()

    async def claim_many(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """The inbox claims of several events, in this transaction: the ids not processed before."""
        return await claim_many(self.session, consumer, event_ids)
