"""The unit of work on PostgreSQL: one transaction holding the state change, the inbox row and the
outbox rows (the use cases see it as service_layer.ports.ReservationUnitOfWork; bootstrap builds
it).

The shared convention (backbone.db.AbstractUnitOfWork): `async with uow:` opens the transaction,
`await uow.commit()` keeps it, leaving the block without it rolls everything back.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.db import SqlUnitOfWork, claim_many
from reservation.adapters.disputes import DisputeRepository
from reservation.adapters.facts import FactWriter
from reservation.adapters.metrics import PrometheusObserver
from reservation.adapters.money_reads import MoneyReads
from reservation.adapters.orders import OrderRepository
from reservation.adapters.provenance import CheckoutRecords
from reservation.adapters.quota_store import QuotaStore
from reservation.adapters.refund_store import RefundStore
from reservation.adapters.repository import Repository
from reservation.service_layer.ports import PaymentObserver, ReservationUnitOfWork


class UnitOfWork(SqlUnitOfWork, ReservationUnitOfWork):
    """Reservations, orders, refunds, disputes and facts bound to one transaction.

    What the aggregates changed (reservations, orders, payment attempts) and the outbox facts are
    written just before the commit, a few statements for any number of them.
    """

    repo: Repository
    orders: OrderRepository
    refunds: RefundStore
    disputes: DisputeRepository
    checkout: CheckoutRecords
    facts: FactWriter
    quotas: QuotaStore
    reads: MoneyReads

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        correlation_id: str | None = None,
        observer: PaymentObserver | None = None,
    ) -> None:
        super().__init__(sessions)
        self._correlation_id = correlation_id
        self.observer = observer if observer is not None else PrometheusObserver()

    def _bind(self, session: AsyncSession) -> None:
        self.repo = Repository(session)
        self.orders = OrderRepository(session)
        self.refunds = RefundStore(session)
        self.disputes = DisputeRepository(session)
        self.checkout = CheckoutRecords(session)
        self.facts = FactWriter(session, self._correlation_id)
        self.quotas = QuotaStore(session)
        self.reads = MoneyReads(session)

    async def _stage(self) -> None:
        await self.publish()
        await self.repo.flush()
        await self.orders.flush()
        await self.facts.flush()

    async def claim_many(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """The inbox claims of several events, in this transaction: the ids not processed before."""
        return await claim_many(self.session, consumer, event_ids)
