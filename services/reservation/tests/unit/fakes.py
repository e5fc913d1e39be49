"""In-memory repositories and a fake unit of work for millisecond tests of the use cases.

`FakeDatabase` is what is committed; a `FakeUnitOfWork` works on a copy of it and puts the copy
back only on `commit()`, so a batch that fails leaves the database as it was (the shared unit of
work's convention). The facts are the real contract facts (adapters.facts maps the events).
What only PostgreSQL can show (the exclusion constraint, SKIP LOCKED, lock order) stays with
the integration tests.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.reservation import FactBase
from reservation.adapters.facts import FactWriter
from reservation.domain.disputes import DisputeStage
from reservation.domain.model import LIVE_STATUSES
from reservation.domain.orders import Order, OrderDraft
from reservation.domain.refunds import RefundStatus
from reservation.domain.reservation import Reservation
from reservation.service_layer.ports import NullPaymentObserver, ReservationUnitOfWork


@dataclass
class FakeRefund:
    """One refund row, in memory."""

    key: str
    origin: str
    payment_intent_id: str
    amount: int
    currency: str
    status: str
    reason: str
    stripe_refund_id: str | None = None
    reservation_id: str | None = None
    session_id: str | None = None
    charge_id: str | None = None
    correlation_id: str | None = None
    applied_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass
class FakeDatabase:
    """What has been committed."""

    reservations: dict[str, Reservation] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    refunds: dict[str, FakeRefund] = field(default_factory=dict)
    disputes: dict[str, DisputeStage] = field(default_factory=dict)
    checkout: dict[str, tuple[int | None, str | None, list[str]]] = field(default_factory=dict)
    parked: dict[str, tuple[str, Any, datetime]] = field(default_factory=dict)
    inbox: set[tuple[str, str]] = field(default_factory=set)
    facts: list[FactBase] = field(default_factory=list)
    commits: int = 0

    def add(self, *reservations: Reservation) -> None:
        for reservation in reservations:
            self.reservations[reservation.id] = reservation


class FakeReservations:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db
        self.seen: dict[str, Reservation] = {}

    async def lock_many(self, reservation_ids: Sequence[str]) -> list[Reservation]:
        wanted = [i for i in sorted(set(reservation_ids)) if i in self._db.reservations]
        for i in wanted:
            self.seen.setdefault(i, self._db.reservations[i])
        return [self.seen[i] for i in wanted]

    async def by_payment_intent(self, payment_intent_id: str) -> list[Reservation]:
        ids = [r.id for r in self._db.reservations.values()]
        found = await self.lock_many(ids)
        return [r for r in found if r.payment_intent_id == payment_intent_id]

    async def slot_free(self, reservation: Reservation) -> bool:
        return not any(
            other.id != reservation.id
            and other.status in LIVE_STATUSES
            and other.resource == reservation.resource
            and other.starts_at < reservation.ends_at
            and other.ends_at > reservation.starts_at
            for other in self._db.reservations.values()
        )


class FakeOrders:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db
        self.seen: dict[str, Order] = {}

    async def lock_or_create(self, draft: OrderDraft) -> Order:
        await self.lock_or_create_many([draft])
        return self.seen[draft.session_id]

    async def lock_or_create_many(self, drafts: Sequence[OrderDraft]) -> None:
        for draft in drafts:
            order = self._db.orders.setdefault(draft.session_id, Order.open(draft))
            self.seen.setdefault(draft.session_id, order)

    async def paid_by(self, payment_intent_id: str) -> list[Order]:
        for order in self._db.orders.values():
            self.seen.setdefault(order.session_id, order)
        return sorted(
            (o for o in self.seen.values() if o.payment_intent_id == payment_intent_id),
            key=lambda o: o.session_id,
        )


class FakeRefunds:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db
        self.locked: list[str] = []

    async def lock_payments(self, payment_intent_ids: Sequence[str]) -> None:
        self.locked += sorted(set(payment_intent_ids))

    async def prefetch_waiting(self, payment_intent_ids: Sequence[str]) -> None:
        return None

    def might_wait(self, payment_intent_id: str) -> bool:
        return True

    def recorded(self, payment_intent_id: str) -> None:
        return None

    async def request(self, *, key: str, currency: str, **values: Any) -> None:
        if key not in self._db.refunds:
            self._db.refunds[key] = FakeRefund(
                key=key, currency=currency.lower(), status=RefundStatus.REQUESTED.value, **values
            )

    async def get(self, key: str) -> FakeRefund | None:
        return self._db.refunds.get(key)

    async def by_stripe_id(self, stripe_refund_id: str) -> FakeRefund | None:
        found = [r for r in self._db.refunds.values() if r.stripe_refund_id == stripe_refund_id]
        return found[0] if found else None

    def observe(
        self,
        *,
        stripe_refund_id: str,
        payment_intent_id: str,
        amount: int,
        currency: str,
        status: RefundStatus,
        reason: str,
    ) -> FakeRefund:
        row = FakeRefund(
            key=f"stripe:{stripe_refund_id}",
            origin="stripe",
            payment_intent_id=payment_intent_id,
            amount=amount,
            currency=currency.lower(),
            status=status.value,
            reason=reason,
            stripe_refund_id=stripe_refund_id,
        )
        self._db.refunds[row.key] = row
        return row

    async def of_payment(
        self, payment_intent_id: str, origins: tuple[str, ...] = ("stripe",)
    ) -> list[FakeRefund]:
        return [
            r
            for r in self._db.refunds.values()
            if r.payment_intent_id == payment_intent_id and r.origin in origins
        ]


class FakeDisputes:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    async def lock_or_create(self, *, dispute_id: str, stage: DisputeStage, **_: Any) -> Any:
        if dispute_id in self._db.disputes:
            return self._db.disputes[dispute_id]
        self._db.disputes[dispute_id] = stage
        return None

    async def move(
        self, dispute_id: str, stage: DisputeStage, stripe_status: str, now: datetime
    ) -> None:
        self._db.disputes[dispute_id] = stage


class FakeCheckoutRecords:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db
        self.prefetched: list[str] = []

    async def prefetch(self, session_ids: Sequence[str]) -> None:
        self.prefetched.extend(session_ids)

    async def remember(
        self,
        session_id: str,
        amount_total: int | None,
        currency: str | None,
        reservation_ids: list[str],
    ) -> None:
        self._db.checkout.setdefault(session_id, (amount_total, currency, reservation_ids))

    async def created(self, session_id: str) -> tuple[int | None, str | None, list[str]] | None:
        return self._db.checkout.get(session_id)

    async def park(self, event_id: str, session_id: str, payload: str, now: datetime) -> None:
        import json

        self._db.parked.setdefault(event_id, (session_id, json.loads(payload), now))

    async def unpark(self, column: str, value: str) -> list[object]:
        index = 0 if column == "session_id" else None
        taken = [e for e, p in self._db.parked.items() if (p[0] if index == 0 else e) == value]
        return [self._db.parked.pop(e)[1] for e in taken]

    async def parked_before(self, cutoff: datetime, limit: int) -> list[object]:
        return [p[1] for p in self._db.parked.values() if p[2] < cutoff][:limit]


class RecordingObserver(NullPaymentObserver):
    """Remembers what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def order_flagged(self, reason: str) -> None:
        self.calls.append(("order_flagged", reason))

    def refund_outcome(self, outcome: str) -> None:
        self.calls.append(("refund", outcome))

    def dispute(self, stage: str) -> None:
        self.calls.append(("dispute", stage))

    def declined(self, decline_code: str | None) -> str:
        self.calls.append(("declined", decline_code))
        return decline_code or "unknown"


class FakeUnitOfWork(ReservationUnitOfWork):
    """Works on a copy of the database; `commit()` puts the copy back, rollback drops it."""

    def __init__(self, db: FakeDatabase, observer: RecordingObserver | None = None) -> None:
        self.db = db
        self.observer = observer or RecordingObserver()

    async def __aenter__(self) -> FakeUnitOfWork:
        self._work = copy.deepcopy(self.db)
        self.repo = FakeReservations(self._work)
        self.orders = FakeOrders(self._work)
        self.refunds = FakeRefunds(self._work)
        self.disputes = FakeDisputes(self._work)
        self.checkout = FakeCheckoutRecords(self._work)
        self.facts = FactWriter(None, None)  # type: ignore[arg-type]
        return await super().__aenter__()

    async def claim_many(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        fresh = {e for e in event_ids if (consumer, e) not in self._work.inbox}
        self._work.inbox |= {(consumer, e) for e in event_ids}
        return fresh

    async def _stage(self) -> None:
        await self.publish()

    async def _commit(self) -> None:
        self._work.facts += self.facts.written
        self._work.commits += 1
        self.db.__dict__.update(self._work.__dict__)

    async def rollback(self) -> None:
        return None
