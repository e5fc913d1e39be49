"""Read-only queries of the money jobs (overdue look-ups, reconciliation); callers own the
transaction. They return plain values, so the service layer never sees a table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backbone.db import InboxEntry
from reservation.adapters.tables import OrderRow, PaymentAttemptRow, ReservationRow
from reservation.domain.model import Status
from reservation.domain.payments import Stage
from reservation.service_layer.ports import ReservationState

# Stripe's longest Checkout Session: the deadline of a session whose expires_at we never learnt.
STRIPE_MAX_SESSION = timedelta(hours=24)


class MoneyReads:
    """The queries, on the caller's session (service_layer.ports.MoneyReads)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def overdue_session_ids(self, closed_before: datetime, limit: int) -> list[str]:
        """Sessions of processing reservations whose page should have closed before
        `closed_before` (its `expires_at`, else Stripe's longest session), oldest first."""
        deadline = func.coalesce(
            col(ReservationRow.session_expires_at),
            col(PaymentAttemptRow.session_created) + STRIPE_MAX_SESSION,
        )
        statement = (
            select(col(ReservationRow.current_session_id))
            .join(
                PaymentAttemptRow,
                and_(
                    col(PaymentAttemptRow.reservation_id) == col(ReservationRow.id),
                    col(PaymentAttemptRow.session_id) == col(ReservationRow.current_session_id),
                ),
            )
            .where(col(ReservationRow.status) == Status.PROCESSING.value)
            # Only a page still open: a completed delayed payment (awaiting) has no deadline.
            .where(col(PaymentAttemptRow.stage) == Stage.OPEN.value)
            .where(deadline <= closed_before)
            .group_by(col(ReservationRow.current_session_id))
            .order_by(func.min(deadline))
            .limit(limit)
        )
        found = (await self.session.scalars(statement)).all()
        return [str(session_id) for session_id in found if session_id]

    async def applied(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """Which of these events `consumer` has in its inbox."""
        return set(
            (
                await self.session.scalars(
                    select(col(InboxEntry.event_id))
                    .where(col(InboxEntry.consumer) == consumer)
                    .where(col(InboxEntry.event_id).in_(list(event_ids)))
                )
            ).all()
        )

    async def reservation_states(
        self, reservation_ids: Sequence[str], payment_intent_ids: Sequence[str]
    ) -> list[ReservationState]:
        """The reservations with these ids, or paid by these payment intents."""
        rows = (
            await self.session.scalars(
                select(ReservationRow).where(
                    col(ReservationRow.id).in_(sorted(reservation_ids))
                    | col(ReservationRow.payment_intent_id).in_(sorted(payment_intent_ids))
                )
            )
        ).all()
        return [ReservationState(r.id, r.status, r.payment_intent_id) for r in rows]

    async def order_statuses(self, session_ids: Sequence[str]) -> dict[str, str]:
        """The status of the beats order of each of these sessions we recorded one for."""
        found = await self.session.execute(
            select(col(OrderRow.session_id), col(OrderRow.status)).where(
                col(OrderRow.session_id).in_(sorted(session_ids))
            )
        )
        return {str(sid): str(st) for sid, st in found}
