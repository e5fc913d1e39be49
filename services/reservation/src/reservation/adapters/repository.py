"""Reservations of the database as domain aggregates (and the catalog); no commit in here.

Reservations the payment use cases change are loaded as `domain.reservation.Reservation`
aggregates, row-locked in id order with their payment attempts, and kept for the transaction
(one object per reservation). `flush` writes back what changed: one UPDATE executed for every
changed reservation at once (pipelined) and one INSERT for every recorded attempt, no ORM unit
of work in between. These statements of the batch path are plain SQL on the session's psycopg
connection (backbone.db's driver statements, ADR 0012). The booking API and the sweep still read
ORM rows (`get`, `for_user`, `due_holds`, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import sql
from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backbone.db import driver_execute, driver_execute_many, driver_fetch_all
from reservation.adapters.tables import ReservationRow, StudioServiceRow
from reservation.domain.model import LIVE_STATUSES, SWEEPABLE_STATUSES, Slot, Status, StudioService
from reservation.domain.payments import Attempt, Stage
from reservation.domain.reservation import Reservation
from reservation.service_layer.errors import ReferenceTaken, SlotTaken

EXCLUSION_VIOLATION = "23P01"  # another live reservation overlaps the slot
UNIQUE_VIOLATION = "23505"  # the booking reference is taken


def to_service(row: StudioServiceRow) -> StudioService:
    """The domain view of a catalog row."""
    return StudioService(
        row.id, row.name, row.duration_minutes, row.price, row.currency, row.resource
    )


_RESERVATIONS = ReservationRow.__table__  # type: ignore[attr-defined]
_COLUMNS: tuple[str, ...] = tuple(c.name for c in _RESERVATIONS.columns)
# What a payment, a refund or a dispute may change: written back whole when anything changed.
_MUTABLE: tuple[str, ...] = tuple(c for c in _COLUMNS if c not in ("id", "created_at"))

# The batch path's statements: plain SQL on the session's psycopg connection (backbone.db's
# driver statements, about half the CPU of the same statement through the session), each with
# array parameters, so one statement serves any number of reservations and is prepared once.
# The column lists come from the table's definition, quoted as identifiers.
_SELECT_RESERVATIONS = (
    sql.SQL("SELECT {} FROM reservations")
    .format(sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)))
    .as_string()
)
_LOCK_RESERVATIONS = (
    _SELECT_RESERVATIONS + " WHERE id = ANY(CAST(%(ids)s AS varchar[])) ORDER BY id FOR UPDATE"
)
_LOCK_BY_PAYMENT_INTENT = (
    _SELECT_RESERVATIONS + " WHERE payment_intent_id = %(payment_intent_id)s ORDER BY id FOR UPDATE"
)
_READ_ATTEMPTS = (
    "SELECT reservation_id, session_id, session_created, stage FROM payment_attempts"
    " WHERE reservation_id = ANY(CAST(%(ids)s AS varchar[]))"
)
# Every changed reservation written back whole, one parameter set each (executed pipelined).
_SAVE = (
    sql.SQL("UPDATE reservations SET {} WHERE id = %(k_id)s")
    .format(
        sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(f"v_{c}"))
            for c in _MUTABLE
        )
    )
    .as_string()
)
# Insert the attempts, or move their stage: one statement (an array per column) for any number.
_RECORD_ATTEMPTS = (
    "INSERT INTO payment_attempts (reservation_id, session_id, session_created, stage)"
    " SELECT * FROM unnest(CAST(%(reservation_ids)s AS varchar[]),"
    " CAST(%(session_ids)s AS varchar[]), CAST(%(created)s AS timestamptz[]),"
    " CAST(%(stages)s AS varchar[]))"
    " ON CONFLICT (reservation_id, session_id)"
    " DO UPDATE SET stage = excluded.stage, updated_at = now()"
)


def to_reservation(row: Sequence[Any]) -> Reservation:
    """The aggregate of a `reservations` row (its columns in table order, `_COLUMNS`)."""
    values = dict(zip(_COLUMNS, row, strict=True))
    values["status"] = Status(values["status"])
    return Reservation(**values)


def _values(reservation: Reservation) -> dict[str, Any]:
    values = {c: getattr(reservation, c) for c in _MUTABLE}
    values["status"] = reservation.status.value
    return values


class Repository:
    """Reservations, their payment attempts and the catalog, within one session.

    Within a transaction, a reservation is loaded once (locked, with its attempts) and kept in
    memory: a batch of payments locks and reads everything it needs up front (in id order),
    decides in memory, and `flush` writes the changes in a few statements.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.seen: dict[str, Reservation] = {}
        self._saved: dict[str, dict[str, Any]] = {}
        self._attempts: dict[str, dict[str, Attempt]] = {}

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

    async def insert(
        self,
        *,
        slot: Slot,
        now: datetime,
        **fields: Any,
    ) -> ReservationRow:
        """Insert a new reservation on `slot` now, with what is staged before it (holds expired
        on the slot): SlotTaken if the exclusion constraint finds the slot held,
        ReferenceTaken if its reference is in use. The transaction is then spent."""
        row = ReservationRow(
            resource=slot.resource,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            created_at=now,
            updated_at=now,
            **fields,
        )
        self.session.add(row)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            sqlstate = getattr(exc.orig, "sqlstate", None)
            if sqlstate == EXCLUSION_VIOLATION:
                raise SlotTaken(slot.describe()) from exc
            if sqlstate == UNIQUE_VIOLATION:
                raise ReferenceTaken(str(fields.get("reference"))) from exc
            raise
        return row

    async def get(self, reservation_id: str, *, for_update: bool = False) -> ReservationRow | None:
        """One reservation row, row-locked when asked."""
        statement = select(ReservationRow).where(col(ReservationRow.id) == reservation_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.scalars(statement)).first()

    async def lock_many(self, reservation_ids: Sequence[str]) -> list[Reservation]:
        """Row-lock reservations in id order (one order everywhere, so no deadlocks) and load
        them with their attempts. Those this transaction loaded before come from memory;
        unknown ids are left out."""
        wanted = sorted(set(reservation_ids))
        missing = [i for i in wanted if i not in self.seen]
        if missing:
            rows = await driver_fetch_all(self.session, _LOCK_RESERVATIONS, {"ids": missing})
            await self._track([to_reservation(r) for r in rows])
        return [self.seen[i] for i in wanted if i in self.seen]

    async def by_payment_intent(self, payment_intent_id: str) -> list[Reservation]:
        """Row-locked reservations paid by a PaymentIntent (this transaction's changes
        included)."""
        await self.flush()
        rows = await driver_fetch_all(
            self.session, _LOCK_BY_PAYMENT_INTENT, {"payment_intent_id": payment_intent_id}
        )
        found = [to_reservation(r) for r in rows]
        await self._track([r for r in found if r.id not in self.seen])
        return [self.seen[r.id] for r in found]

    async def _track(self, loaded: list[Reservation]) -> None:
        """Keep freshly loaded aggregates (with their attempts) for the transaction."""
        if not loaded:
            return
        await self.load_attempts([r.id for r in loaded])
        for reservation in loaded:
            reservation.attempts = dict(self._attempts[reservation.id])
            self.seen[reservation.id] = reservation
            self._saved[reservation.id] = _values(reservation)

    async def slot_free(self, reservation: Reservation) -> bool:
        """Whether no live reservation holds any of its slot now (this transaction's changes
        included; the exclusion constraint has the last word at commit)."""
        await self.flush()
        slot = Slot(reservation.resource, reservation.starts_at, reservation.ends_at)
        return await self.live_overlapping(slot) == 0

    async def for_user(self, user_id: str, status: str | None = None) -> list[ReservationRow]:
        """A user's reservations, soonest slot first."""
        statement = select(ReservationRow).where(col(ReservationRow.user_id) == user_id)
        if status:
            statement = statement.where(col(ReservationRow.status) == status)
        rows = await self.session.scalars(statement.order_by(col(ReservationRow.starts_at)))
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
        rows = await driver_fetch_all(self.session, _READ_ATTEMPTS, {"ids": missing})
        for reservation_id, session_id, created, stage in rows:
            self._attempts[reservation_id][session_id] = Attempt(session_id, created, Stage(stage))

    async def attempts(self, reservation_id: str) -> list[Attempt]:
        """Every payment attempt of a reservation recorded so far."""
        if reservation_id in self.seen:
            return list(self.seen[reservation_id].attempts.values())
        await self.load_attempts([reservation_id])
        return list(self._attempts[reservation_id].values())

    async def flush(self) -> None:
        """Write what changed in the aggregates: the reservations in one executemany UPDATE,
        their recorded attempts in one INSERT (the unit of work calls it before committing)."""
        changed: list[dict[str, Any]] = []
        attempts: list[tuple[str, Attempt]] = []
        for reservation_id in sorted(self.seen):
            reservation = self.seen[reservation_id]
            values = _values(reservation)
            if values != self._saved[reservation_id]:
                changed.append({"k_id": reservation_id, **{f"v_{k}": v for k, v in values.items()}})
                self._saved[reservation_id] = values
            if reservation.recorded_attempts:
                attempts += [
                    (reservation_id, a) for _, a in sorted(reservation.recorded_attempts.items())
                ]
                reservation.recorded_attempts = {}
        if changed:
            await driver_execute_many(self.session, _SAVE, changed)
        if attempts:
            await driver_execute(
                self.session,
                _RECORD_ATTEMPTS,
                {
                    "reservation_ids": [reservation_id for reservation_id, _ in attempts],
                    "session_ids": [a.session_id for _, a in attempts],
                    "created": [a.created for _, a in attempts],
                    "stages": [a.stage.value for _, a in attempts],
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
