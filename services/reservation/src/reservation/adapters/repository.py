"""Queries of the reservation database; callers own the transaction (no commit in here)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, select, text
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


_ATTEMPTS = PaymentAttemptRow.__table__  # type: ignore[attr-defined]
# Insert the attempts, or move their stage: one statement (an array per column) for any number.
_RECORD_ATTEMPTS = text(
    "INSERT INTO payment_attempts (reservation_id, session_id, session_created, stage)"
    " SELECT * FROM unnest(CAST(:reservation_ids AS varchar[]), CAST(:session_ids AS varchar[]),"
    " CAST(:created AS timestamptz[]), CAST(:stages AS varchar[]))"
    " ON CONFLICT (reservation_id, session_id)"
    " DO UPDATE SET stage = excluded.stage, updated_at = now()"
)


class Repository:
    """Reservations, their payment attempts and the catalog, within one session.

    Within a transaction, reservations locked once and attempts read once are kept in memory, and
    recorded attempts are written by `flush` in one statement: a batch of payments locks and reads
    everything it needs up front (in id order), then decides in memory.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._locked: dict[str, ReservationRow] = {}
        self._attempts: dict[str, dict[str, Attempt]] = {}
        self._staged: dict[tuple[str, str], Attempt] = {}

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
        """Row-lock reservations in id order (one order everywhere, so no deadlocks).

        Rows this transaction locked before come from memory; unknown ids are left out.
        """
        wanted = sorted(set(reservation_ids))
        missing = [i for i in wanted if i not in self._locked]
        if missing:
            rows = await self.session.scalars(
                select(ReservationRow)
                .where(col(ReservationRow.id).in_(missing))
                .order_by(col(ReservationRow.id))
                .with_for_update()
            )
            self._locked.update((row.id, row) for row in rows)
        return [self._locked[i] for i in wanted if i in self._locked]

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

    async def load_attempts(self, reservation_ids: Sequence[str]) -> None:
        """Read the payment attempts of these reservations (one query for those not read yet)."""
        missing = [i for i in dict.fromkeys(reservation_ids) if i not in self._attempts]
        if not missing:
            return
        for reservation_id in missing:
            self._attempts[reservation_id] = {}
        rows = await self.session.execute(
            select(
                _ATTEMPTS.c.reservation_id,
                _ATTEMPTS.c.session_id,
                _ATTEMPTS.c.session_created,
                _ATTEMPTS.c.stage,
            ).where(_ATTEMPTS.c.reservation_id.in_(missing))
        )
        for reservation_id, session_id, created, stage in rows:
            self._attempts[reservation_id][session_id] = Attempt(session_id, created, Stage(stage))

    async def attempts(self, reservation_id: str) -> list[Attempt]:
        """Every payment attempt of a reservation, those recorded in this transaction included."""
        await self.load_attempts([reservation_id])
        return list(self._attempts[reservation_id].values())

    async def record_attempt(self, reservation_id: str, attempt: Attempt) -> None:
        """Insert the attempt, or move its stage (the caller checked that it advances).

        Staged: `flush` writes it. A known attempt keeps the creation time first recorded.
        """
        await self.load_attempts([reservation_id])
        known = self._attempts[reservation_id].get(attempt.session_id)
        if known is not None:
            attempt = Attempt(attempt.session_id, known.created, attempt.stage)
        self._attempts[reservation_id][attempt.session_id] = attempt
        self._staged[(reservation_id, attempt.session_id)] = attempt

    async def flush(self) -> None:
        """Write the staged attempts in one statement (the unit of work calls it on commit)."""
        if not self._staged:
            return
        staged, self._staged = self._staged, {}
        keys = sorted(staged)
        await self.session.execute(
            _RECORD_ATTEMPTS,
            {
                "reservation_ids": [reservation_id for reservation_id, _ in keys],
                "session_ids": [session_id for _, session_id in keys],
                "created": [staged[key].created for key in keys],
                "stages": [staged[key].stage.value for key in keys],
            },
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
