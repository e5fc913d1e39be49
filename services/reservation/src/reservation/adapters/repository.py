"""Queries of the reservation database; callers own the transaction (no commit in here)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from reservation.adapters.tables import PaymentAttemptRow, ReservationRow, StudioServiceRow
from reservation.domain.model import LIVE_STATUSES, SWEEPABLE_STATUSES, Slot, StudioService
from reservation.domain.payments import Attempt, Stage


def to_service(row: StudioServiceRow) -> StudioService:
    """The domain view of a catalog row."""
    return StudioService(
        row.id, row.name, row.duration_minutes, row.price, row.currency, row.resource
    )


class Repository:
    """Reservations, their payment attempts and the catalog, within one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def services(self) -> list[StudioService]:
        """The active catalog."""
        rows = await self.session.scalars(
            select(StudioServiceRow)
            .where(col(StudioServiceRow.active).is_(True))
            .order_by(col(StudioServiceRow.id))
        )
        return [to_service(r) for r in rows]

    async def service(self, service_id: str) -> StudioService | None:
        """One active catalog entry."""
        row = await self.session.get(StudioServiceRow, service_id)
        return to_service(row) if row is not None and row.active else None

    def add(self, row: ReservationRow) -> None:
        """Stage a new reservation."""
        self.session.add(row)

    async def get(self, reservation_id: str, *, for_update: bool = False) -> ReservationRow | None:
        """One reservation, row-locked when asked."""
        statement = select(ReservationRow).where(col(ReservationRow.id) == reservation_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.scalars(statement)).first()

    async def lock_many(self, reservation_ids: Sequence[str]) -> list[ReservationRow]:
        """Row-lock reservations in id order (one order everywhere, so no deadlocks)."""
        if not reservation_ids:
            return []
        rows = await self.session.scalars(
            select(ReservationRow)
            .where(col(ReservationRow.id).in_(sorted(set(reservation_ids))))
            .order_by(col(ReservationRow.id))
            .with_for_update()
        )
        return list(rows)

    async def for_user(self, user_id: str, status: str | None = None) -> list[ReservationRow]:
        """A user's reservations, soonest slot first."""
        statement = select(ReservationRow).where(col(ReservationRow.user_id) == user_id)
        if status:
            statement = statement.where(col(ReservationRow.status) == status)
        rows = await self.session.scalars(statement.order_by(col(ReservationRow.starts_at)))
        return list(rows)

    async def by_payment_intent(self, payment_intent_id: str) -> list[ReservationRow]:
        """Row-locked reservations paid by a PaymentIntent."""
        rows = await self.session.scalars(
            select(ReservationRow)
            .where(col(ReservationRow.payment_intent_id) == payment_intent_id)
            .order_by(col(ReservationRow.id))
            .with_for_update()
        )
        return list(rows)

    async def stale_holds_on(self, slot: Slot, now: datetime) -> list[ReservationRow]:
        """Row-locked unpaid holds overlapping `slot` whose time is up (the sweep may lag)."""
        rows = await self.session.scalars(
            select(ReservationRow)
            .where(
                and_(
                    col(ReservationRow.resource) == slot.resource,
                    col(ReservationRow.status).in_([s.value for s in SWEEPABLE_STATUSES]),
                    col(ReservationRow.hold_expires_at) <= now,
                    col(ReservationRow.starts_at) < slot.ends_at,
                    col(ReservationRow.ends_at) > slot.starts_at,
                )
            )
            .order_by(col(ReservationRow.id))
            .with_for_update()
        )
        return list(rows)

    async def due_holds(self, now: datetime, limit: int) -> list[ReservationRow]:
        """Row-locked holds that ran out; rows another worker is on are skipped."""
        rows = await self.session.scalars(
            select(ReservationRow)
            .where(col(ReservationRow.status).in_([s.value for s in SWEEPABLE_STATUSES]))
            .where(col(ReservationRow.hold_expires_at) <= now)
            .order_by(col(ReservationRow.hold_expires_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows)

    async def attempts(self, reservation_id: str) -> list[Attempt]:
        """Every recorded payment attempt of a reservation."""
        rows = await self.session.scalars(
            select(PaymentAttemptRow).where(col(PaymentAttemptRow.reservation_id) == reservation_id)
        )
        return [Attempt(r.session_id, r.session_created, Stage(r.stage)) for r in rows]

    async def record_attempt(self, reservation_id: str, attempt: Attempt) -> None:
        """Insert the attempt, or move its stage (the caller checked that it advances)."""
        statement = insert(PaymentAttemptRow).values(
            reservation_id=reservation_id,
            session_id=attempt.session_id,
            session_created=attempt.created,
            stage=attempt.stage.value,
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["reservation_id", "session_id"],
                set_={"stage": attempt.stage.value, "updated_at": func.now()},
            )
        )

    async def live_overlapping(self, slot: Slot) -> int:
        """How many live reservations overlap `slot` (for reports; the constraint decides)."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(ReservationRow)
            .where(col(ReservationRow.resource) == slot.resource)
            .where(col(ReservationRow.status).in_([s.value for s in LIVE_STATUSES]))
            .where(col(ReservationRow.starts_at) < slot.ends_at)
            .where(col(ReservationRow.ends_at) > slot.starts_at)
        )
        return int(count or 0)
