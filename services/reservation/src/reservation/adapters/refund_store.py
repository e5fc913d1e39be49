"""Queries of the refunds table and the per-payment lock; callers own the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backbone.db import driver_execute, driver_fetch_all
from reservation.adapters.tables import RefundRow
from reservation.domain.refunds import RefundStatus
from reservation.service_layer.ports import Claimed

# One statement for any number of payments, locked in the order of their lock keys (the hashes
# themselves, so two payments whose keys collide still lock in one order everywhere).
# On the session's psycopg connection (backbone.db's driver statements: the batch path).
_LOCK_PAYMENTS = (
    "SELECT count(pg_advisory_xact_lock(h)) FROM (SELECT DISTINCT"
    " hashtextextended('payment:' || k, 0) AS h FROM unnest(CAST(%(keys)s AS text[])) AS k"
    " ORDER BY h) AS ordered"
)
# Claim due requests and push their next attempt past a lease, in one statement: the claim
# commits before Stripe is called, so no row stays locked while the network is waited on.
_CLAIM = text(
    "UPDATE refunds SET attempts = attempts + 1, next_attempt_at = now() + make_interval("
    "secs => :lease_s), updated_at = now() WHERE key IN (SELECT key FROM refunds"
    " WHERE status = 'requested' AND next_attempt_at <= now() ORDER BY next_attempt_at"
    " LIMIT :limit FOR UPDATE SKIP LOCKED) RETURNING key"
)

# Payments with a refund from Stripe not applied yet: one array parameter, on the session's
# psycopg connection (the batch path asks it for every payment it settles).
_WAITING = (
    "SELECT DISTINCT payment_intent_id FROM refunds"
    " WHERE payment_intent_id = ANY(CAST(%(ids)s AS varchar[]))"
    " AND origin = 'stripe' AND applied_at IS NULL"
)


class RefundStore:
    """The refunds of one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._locked: set[str] = set()
        # Payments known (under their lock) to have no refund waiting for them, so a batch of
        # payments asks once, not once per payment.
        self._none_waiting: set[str] = set()

    async def prefetch_waiting(self, payment_intent_ids: Sequence[str]) -> None:
        """Learn in one query which of these locked payments have refunds waiting to apply."""
        wanted = sorted(set(payment_intent_ids))
        if not wanted:
            return
        rows = await driver_fetch_all(self.session, _WAITING, {"ids": wanted})
        waiting = {payment_intent_id for (payment_intent_id,) in rows}
        self._none_waiting.update(set(wanted) - waiting)

    def might_wait(self, payment_intent_id: str) -> bool:
        """Whether a refund may wait for this payment (unknown counts as maybe)."""
        return payment_intent_id not in self._none_waiting

    def recorded(self, payment_intent_id: str) -> None:
        """A refund of this payment was recorded in this transaction: it may wait now."""
        self._none_waiting.discard(payment_intent_id)

    async def lock_payments(self, payment_intent_ids: Sequence[str]) -> None:
        """Serialise everything about these payments (their refunds, their settling) across
        transactions; taken first, in sorted order, before any row lock, so no cycle forms."""
        wanted = sorted(set(payment_intent_ids) - self._locked)
        if wanted:
            await driver_execute(self.session, _LOCK_PAYMENTS, {"keys": wanted})
            self._locked.update(wanted)

    async def request(
        self,
        *,
        key: str,
        origin: str,
        payment_intent_id: str,
        amount: int,
        currency: str,
        reason: str,
        reservation_id: str | None = None,
        session_id: str | None = None,
        charge_id: str | None = None,
        correlation_id: str | None = None,
    ) -> None:
        """Record a refund we decided, or a look-up (once per key: a replayed decision changes
        nothing); the refund executor carries it out after the commit."""
        row = RefundRow(
            key=key,
            origin=origin,
            payment_intent_id=payment_intent_id,
            amount=amount,
            currency=currency.lower(),
            status=RefundStatus.REQUESTED.value,
            reason=reason,
            reservation_id=reservation_id,
            session_id=session_id,
            charge_id=charge_id,
            correlation_id=correlation_id,
        )
        values = {c.name: getattr(row, c.name) for c in RefundRow.__table__.columns}  # type: ignore[attr-defined]
        await self.session.execute(
            insert(RefundRow).values(values).on_conflict_do_nothing(index_elements=["key"])
        )

    async def get(self, key: str) -> RefundRow | None:
        """One refund, row-locked."""
        return (
            await self.session.scalars(
                select(RefundRow)
                .where(col(RefundRow.key) == key)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).first()

    async def by_stripe_id(self, stripe_refund_id: str) -> RefundRow | None:
        """The refund Stripe knows as `stripe_refund_id`, row-locked."""
        return (
            await self.session.scalars(
                select(RefundRow)
                .where(col(RefundRow.stripe_refund_id) == stripe_refund_id)
                .with_for_update()
            )
        ).first()

    def observe(
        self,
        *,
        stripe_refund_id: str,
        payment_intent_id: str,
        amount: int,
        currency: str,
        status: RefundStatus,
        reason: str,
    ) -> RefundRow:
        """Stage a refund made in Stripe that its events told us of."""
        row = RefundRow(
            key=f"stripe:{stripe_refund_id}",
            origin="stripe",
            stripe_refund_id=stripe_refund_id,
            payment_intent_id=payment_intent_id,
            amount=amount,
            currency=currency.lower(),
            status=status.value,
            reason=reason,
        )
        self.session.add(row)
        return row

    async def of_payment(
        self, payment_intent_id: str, origins: tuple[str, ...] = ("stripe",)
    ) -> list[RefundRow]:
        """A payment's refunds of these origins, oldest first (the caller holds the payment's
        lock)."""
        rows = await self.session.scalars(
            select(RefundRow)
            .where(col(RefundRow.payment_intent_id) == payment_intent_id)
            .where(col(RefundRow.origin).in_(origins))
            .order_by(col(RefundRow.created_at), col(RefundRow.key))
        )
        return list(rows)

    async def claim_due(self, limit: int, lease_s: float) -> list[Claimed]:
        """Requests due for an attempt, claimed for `lease_s` (commit before calling Stripe)."""
        keys = list(await self.session.scalars(_CLAIM, {"limit": limit, "lease_s": lease_s}))
        if not keys:
            return []
        rows = await self.session.scalars(select(RefundRow).where(col(RefundRow.key).in_(keys)))
        return [
            Claimed(
                r.key,
                r.origin,
                r.payment_intent_id,
                r.amount,
                r.reason,
                r.attempts,
                r.correlation_id,
                r.charge_id,
            )
            for r in rows
        ]

    async def retry_later(self, key: str, at: datetime, error: str) -> None:
        """A transient failure: the next attempt is not before `at`."""
        await self.session.execute(
            update(RefundRow)
            .where(col(RefundRow.key) == key)
            .where(col(RefundRow.status) == RefundStatus.REQUESTED.value)
            .values(next_attempt_at=at, last_error=error[:2000], updated_at=func.now())
        )

    async def waiting(self) -> tuple[int, float]:
        """How many requests wait for Stripe, and the age in seconds of the oldest."""
        count, oldest = (
            await self.session.execute(
                select(
                    func.count(),
                    func.coalesce(
                        func.extract("epoch", func.now() - func.min(col(RefundRow.created_at))),
                        0,
                    ),
                ).where(col(RefundRow.status) == RefundStatus.REQUESTED.value)
            )
        ).one()
        return int(count), float(oldest)
