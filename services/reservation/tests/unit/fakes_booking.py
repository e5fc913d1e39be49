"""In-memory fakes of the booking use cases' unit of work: the catalog, reservations, their
payment attempts, the outbox and the quota counts, with the two database rules booking relies on
(the exclusion constraint on live slots and the unique booking reference) checked on insert,
with the errors the PostgreSQL repository translates them into.

A unit of work works on copies of the stored rows: `commit()` writes them back and publishes the
facts; leaving without it keeps nothing, as a rolled-back transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from backbone.db import AbstractUnitOfWork
from reservation.adapters.tables import ReservationRow
from reservation.domain.model import LIVE_STATUSES, SWEEPABLE_STATUSES, Slot, StudioService
from reservation.domain.payments import Attempt
from reservation.service_layer.errors import ReferenceTaken, SlotTaken
from reservation.service_layer.ports import ReservationUnitOfWork


@dataclass
class Store:
    """The committed state: what a new unit of work starts from."""

    services: dict[str, StudioService] = field(default_factory=dict)
    reservations: dict[str, ReservationRow] = field(default_factory=dict)
    attempts: dict[str, list[Attempt]] = field(default_factory=dict)
    outbox: list[tuple[str, str]] = field(default_factory=list)  # (fact, reservation id)

    def put(self, *rows: ReservationRow) -> None:
        """Rows committed before the test."""
        for row in rows:
            self.reservations[row.id] = row


class FakeRepository:
    """The repository calls booking and the sweep make, on the unit of work's copies."""

    def __init__(self, store: Store, rows: dict[str, ReservationRow]) -> None:
        self._store = store
        self.rows = rows
        self.added: list[ReservationRow] = []

    async def services(self) -> list[StudioService]:
        return sorted(self._store.services.values(), key=lambda s: s.id)

    async def service(self, service_id: str) -> StudioService | None:
        return self._store.services.get(service_id)

    def add(self, row: ReservationRow) -> None:
        self.rows[row.id] = row
        self.added.append(row)

    async def insert(self, *, slot: Slot, now: datetime, **fields: Any) -> ReservationRow:
        row = ReservationRow(
            resource=slot.resource,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            created_at=now,
            updated_at=now,
            **fields,
        )
        _check_constraints(row, self.rows.values(), slot)
        self.add(row)
        return row

    async def get(self, reservation_id: str, *, for_update: bool = False) -> ReservationRow | None:
        return self.rows.get(reservation_id)

    async def for_user(self, user_id: str, status: str | None = None) -> list[ReservationRow]:
        mine = [r for r in self.rows.values() if r.user_id == user_id]
        return sorted(
            (r for r in mine if not status or r.status == status), key=lambda r: r.starts_at
        )

    async def attempts(self, reservation_id: str) -> list[Attempt]:
        return list(self._store.attempts.get(reservation_id, []))

    async def stale_holds_on(self, slot: Slot, now: datetime) -> list[ReservationRow]:
        return sorted(
            (
                r
                for r in self.rows.values()
                if r.resource == slot.resource
                and r.status in SWEEPABLE_STATUSES
                and r.hold_expires_at <= now
                and r.starts_at < slot.ends_at
                and r.ends_at > slot.starts_at
            ),
            key=lambda r: r.id,
        )

    async def due_holds(self, now: datetime, limit: int) -> list[ReservationRow]:
        due = [
            r
            for r in self.rows.values()
            if r.status in SWEEPABLE_STATUSES and r.hold_expires_at <= now
        ]
        return sorted(due, key=lambda r: r.hold_expires_at)[:limit]


class FakeFacts:
    """The outbox of one unit of work: published on commit."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, str]] = []

    def expired(self, row: ReservationRow) -> None:
        self.pending.append(("expired", row.id))


class FakeQuotas:
    """The quota counts, from the unit of work's rows."""

    def __init__(self, repo: FakeRepository) -> None:
        self._repo = repo
        self.locked: list[str] = []

    async def lock_user(self, user_id: str) -> None:
        self.locked.append(user_id)

    async def live_hold_expiries(
        self, user_id: str, holding: Collection[str], now: datetime
    ) -> list[datetime]:
        return sorted(
            r.hold_expires_at
            for r in self._repo.rows.values()
            if r.user_id == user_id and r.status in holding and r.hold_expires_at > now
        )

    async def bookings_since(self, user_id: str, since: datetime) -> tuple[int, datetime | None]:
        made = [
            r.created_at
            for r in self._repo.rows.values()
            if r.user_id == user_id and r.created_at > since
        ]
        return len(made), min(made, default=None)


class FakeUnitOfWork(AbstractUnitOfWork):
    """One transaction over a Store; `commits` counts the commits that went through."""

    repo: FakeRepository
    facts: FakeFacts
    quotas: FakeQuotas

    def __init__(self, store: Store) -> None:
        self.store = store
        self.commits = 0

    async def __aenter__(self) -> FakeUnitOfWork:
        await super().__aenter__()
        copies = {rid: row.model_copy() for rid, row in self.store.reservations.items()}
        self.repo = FakeRepository(self.store, copies)
        self.facts = FakeFacts()
        self.quotas = FakeQuotas(self.repo)
        return self

    async def _commit(self) -> None:
        self.store.reservations = dict(self.repo.rows)
        self.store.outbox.extend(self.facts.pending)
        self.facts.pending = []
        self.repo.added = []
        self.commits += 1

    async def rollback(self) -> None:
        self.facts.pending = []


def _check_constraints(new: ReservationRow, others: Iterable[ReservationRow], slot: Slot) -> None:
    for other in others:
        if other.reference == new.reference:
            raise ReferenceTaken(new.reference)
        live = new.status in LIVE_STATUSES and other.status in LIVE_STATUSES
        if (
            live
            and other.resource == new.resource
            and other.starts_at < new.ends_at
            and other.ends_at > new.starts_at
        ):
            raise SlotTaken(slot.describe())


def as_uow(fake: FakeUnitOfWork) -> ReservationUnitOfWork:
    """The fake where a use case's signature names the real unit of work."""
    return cast(ReservationUnitOfWork, fake)
