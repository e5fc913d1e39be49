"""Ports the service layer needs from outside it: the unit of work with its repositories, what
it tells the metrics (an observer), and the values and errors of Stripe's refunds as the use
cases see them.

Use cases are written against `ReservationUnitOfWork`: adapters.unit_of_work is the
PostgreSQL implementation, tests/unit/fakes.py the in-memory one. They count what they did
through `PaymentObserver`: `adapters.metrics.PrometheusObserver` is the Prometheus
implementation that `bootstrap` wires in, `NullPaymentObserver` counts nothing. No use case
imports a metric, a table or an adapter (the layer contract in pyproject.toml).
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any, Protocol, Self

from backbone.db import AbstractUnitOfWork
from backbone.logging import get_logger
from contracts.reservation import FactBase
from reservation.domain.disputes import DisputeStage
from reservation.domain.events import Event, OrderFlagged, RefundRequested
from reservation.domain.model import Slot, StudioService
from reservation.domain.orders import Order, OrderDraft
from reservation.domain.payments import Attempt
from reservation.domain.refunds import RefundStatus
from reservation.domain.reservation import Reservation

log = get_logger(__name__)


class PaymentObserver(Protocol):
    """What the use cases count and time; every method is called after the fact it names."""

    def committed(
        self,
        step: str | None,
        facts: Sequence[FactBase],
        *,
        started: float,
        event_created: datetime | None = None,
    ) -> float | None:
        """A signal committed with `facts`: count and time it; Stripe-to-commit seconds if
        known."""

    def facts_committed(self, facts: Sequence[FactBase]) -> None:
        """Facts committed outside a signal (the refund executor, the sweep)."""

    def order_flagged(self, reason: str) -> None:
        """A paid beats order differs from what was sold."""

    def refund_outcome(self, outcome: str) -> None:
        """A refund moved: succeeded, pending, refused, failed, canceled, retried, observed."""

    def dispute(self, stage: str) -> None:
        """A dispute opened, won or lost."""

    def declined(self, decline_code: str | None) -> str:
        """A card declined; the bounded label it was counted under."""


class NullPaymentObserver:
    """Counts nothing (a use case built without metrics)."""

    def committed(
        self,
        step: str | None,
        facts: Sequence[FactBase],
        *,
        started: float,
        event_created: datetime | None = None,
    ) -> float | None:
        """Nothing counted, no delay known."""
        return None

    def facts_committed(self, facts: Sequence[FactBase]) -> None:
        """Nothing counted."""

    def order_flagged(self, reason: str) -> None:
        """Nothing counted."""

    def refund_outcome(self, outcome: str) -> None:
        """Nothing counted."""

    def dispute(self, stage: str) -> None:
        """Nothing counted."""

    def declined(self, decline_code: str | None) -> str:
        """The code as given."""
        return decline_code or "unknown"


class ReservationRecord(Protocol):
    """A stored reservation as the booking use cases read and change it, and the API shows it
    (adapters.tables.ReservationRow is the one PostgreSQL keeps; the unit fakes keep theirs)."""

    id: str
    reference: str
    user_id: str
    user_email: str
    service_id: str
    service_name: str
    resource: str
    starts_at: datetime
    ends_at: datetime
    amount: int
    currency: str
    status: str
    hold_expires_at: datetime
    created_at: datetime
    updated_at: datetime
    current_session_id: str | None
    paid_session_id: str | None
    payment_intent_id: str | None
    paid_amount: int | None
    paid_currency: str | None
    paid_at: datetime | None
    refund_id: str | None
    refunded_amount: int | None
    session_expires_at: datetime | None


class Reservations(Protocol):
    """Reservation aggregates, locked and kept for the transaction."""

    seen: dict[str, Reservation]

    async def lock_many(self, reservation_ids: Sequence[str]) -> list[Reservation]:
        """Lock and load these reservations in id order (unknown ids left out)."""

    async def by_payment_intent(self, payment_intent_id: str) -> list[Reservation]:
        """Lock and load the reservations a payment paid."""

    async def slot_free(self, reservation: Reservation) -> bool:
        """Whether no live reservation holds any of its slot."""

    # The booking use cases and the sweep read and change stored records, not aggregates.

    async def services(self) -> list[StudioService]:
        """The bookable services."""

    async def service(self, service_id: str) -> StudioService | None:
        """One bookable service, None if unknown or retired."""

    async def insert(self, *, slot: Slot, now: datetime, **fields: Any) -> ReservationRecord:
        """A new reservation on `slot`: SlotTaken if the slot is held, ReferenceTaken if its
        reference is in use (the transaction is then spent)."""

    async def get(
        self, reservation_id: str, *, for_update: bool = False
    ) -> ReservationRecord | None:
        """One reservation, row-locked when asked."""

    async def for_user(
        self, user_id: str, status: str | None = None
    ) -> Sequence[ReservationRecord]:
        """A user's reservations, soonest slot first."""

    async def stale_holds_on(self, slot: Slot, now: datetime) -> Sequence[ReservationRecord]:
        """Holds on this slot that have run out but are not yet expired, locked."""

    async def due_holds(self, now: datetime, limit: int) -> Sequence[ReservationRecord]:
        """Holds run out by `now`, locked (rows another transaction holds are skipped)."""

    async def attempts(self, reservation_id: str) -> list[Attempt]:
        """Every payment attempt of a reservation recorded so far."""


class Orders(Protocol):
    """Beats order aggregates, locked and kept for the transaction."""

    seen: dict[str, Order]

    async def lock_or_create(self, draft: OrderDraft) -> Order:
        """The session's order, locked; created from `draft` if new."""

    async def lock_or_create_many(self, drafts: Sequence[OrderDraft]) -> None:
        """Lock (creating the new ones) the orders of `drafts`, in session id order."""

    async def paid_by(self, payment_intent_id: str) -> list[Order]:
        """Lock and load the orders a payment paid."""


class RefundRecord(Protocol):
    """One refund as recorded: ours, made in Stripe, or a look-up."""

    key: str
    origin: str
    stripe_refund_id: str | None
    payment_intent_id: str
    amount: int
    currency: str
    status: str
    reason: str
    reservation_id: str | None
    session_id: str | None
    correlation_id: str | None
    applied_at: datetime | None
    last_error: str | None
    updated_at: datetime


@dataclass(frozen=True)
class Claimed:
    """A refund request the executor now carries out (no lock held meanwhile)."""

    key: str
    origin: str  # ours: create the refund; lookup: read the charge's refunds
    payment_intent_id: str
    amount: int
    reason: str
    attempts: int
    correlation_id: str | None
    charge_id: str | None = None


@dataclass(frozen=True)
class Refund:
    """A refund Stripe created (or replayed for the same idempotency key)."""

    id: str
    amount: int
    currency: str
    status: str | None = None


class PaymentGatewayError(RuntimeError):
    """Stripe did not answer as hoped."""


class RefundRetryableError(PaymentGatewayError):
    """Stripe unavailable (5xx, 429, a concurrent request, timeout, connection, credentials):
    try again later with the same idempotency key."""


class RefundRefusedError(PaymentGatewayError):
    """Stripe refused the refund for good (already refunded, disputed, invalid): an operator's
    case, not a retry's."""


class Refunds(Protocol):
    """The refunds of one transaction and the per-payment lock."""

    async def lock_payments(self, payment_intent_ids: Sequence[str]) -> None:
        """Serialise everything about these payments across transactions."""

    async def prefetch_waiting(self, payment_intent_ids: Sequence[str]) -> None:
        """Learn which of these payments have refunds waiting to apply."""

    def might_wait(self, payment_intent_id: str) -> bool:
        """Whether a refund may wait for this payment."""

    def recorded(self, payment_intent_id: str) -> None:
        """A refund of this payment was recorded in this transaction."""

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
        """Record a refund we decided or a look-up (once per key)."""

    async def get(self, key: str) -> RefundRecord | None:
        """One refund, locked."""

    async def by_stripe_id(self, stripe_refund_id: str) -> RefundRecord | None:
        """The refund Stripe knows by this id, locked."""

    def observe(
        self,
        *,
        stripe_refund_id: str,
        payment_intent_id: str,
        amount: int,
        currency: str,
        status: RefundStatus,
        reason: str,
    ) -> RefundRecord:
        """Record a refund made in Stripe."""

    async def of_payment(
        self, payment_intent_id: str, origins: tuple[str, ...] = ("stripe",)
    ) -> Sequence[RefundRecord]:
        """A payment's refunds of these origins, oldest first."""

    async def claim_due(self, limit: int, lease_s: float) -> list[Claimed]:
        """Requests due now, their next attempt pushed past the lease (commit before calling
        Stripe: no row stays locked meanwhile)."""

    async def retry_later(self, key: str, at: datetime, error: str) -> None:
        """A transient failure: the next attempt is not before `at`."""

    async def waiting(self) -> tuple[int, float]:
        """How many requests wait for Stripe, and the age in seconds of the oldest."""


class Disputes(Protocol):
    """Disputes, one per Stripe dispute."""

    async def lock_or_create(
        self,
        *,
        dispute_id: str,
        charge_id: str | None,
        payment_intent_id: str | None,
        amount: int,
        currency: str,
        reason: str | None,
        stage: DisputeStage,
        stripe_status: str,
    ) -> DisputeStage | None:
        """Lock the dispute (created if new): the stage known before, None if new."""

    async def move(
        self, dispute_id: str, stage: DisputeStage, stripe_status: str, now: datetime
    ) -> None:
        """Record the stage the dispute reached."""


class CheckoutRecords(Protocol):
    """Checkout's record of each session, and payments parked until it arrives."""

    async def remember(
        self,
        session_id: str,
        amount_total: int | None,
        currency: str | None,
        reservation_ids: list[str],
    ) -> None:
        """Keep what checkout created for a session (the first word stays)."""

    async def prefetch(self, session_ids: Sequence[str]) -> None:
        """Read checkout's records of these sessions at once, for `created` (call it once the
        sessions' reservations are locked: a fact applied meanwhile has committed by then)."""

    async def created(self, session_id: str) -> tuple[int | None, str | None, list[str]] | None:
        """Amount, currency and reservations checkout created the session with, if known."""

    async def park(self, event_id: str, session_id: str, payload: str, now: datetime) -> None:
        """Park a payment until checkout's record of its session arrives."""

    async def unpark(self, column: str, value: str) -> list[object]:
        """Take parked payments out by event or session id."""

    async def parked_before(self, cutoff: datetime, limit: int) -> list[object]:
        """Payments parked before `cutoff`, oldest first."""


class Facts(Protocol):
    """The outbox of the transaction, fed with the contract facts of domain events."""

    written: list[FactBase]

    @property
    def correlation_id(self) -> str | None:
        """The correlation id facts written now carry."""

    def correlated(self, correlation_id: str | None) -> AbstractContextManager[list[FactBase]]:
        """Facts written inside carry `correlation_id`; the list holds them afterwards."""

    def record(self, event: Event) -> None:
        """Write the contract fact of a domain event, if it has one."""

    def expired(self, row: ReservationRecord) -> None:
        """The hold of a stored reservation ran out unpaid (the sweep and the booking API)."""


class Quotas(Protocol):
    """A user's holds and bookings, for the booking quotas."""

    async def lock_user(self, user_id: str) -> None:
        """Serialise this user's bookings until the transaction ends."""

    async def live_hold_expiries(
        self, user_id: str, holding: Collection[str], now: datetime
    ) -> list[datetime]:
        """When each of the user's holds in these statuses that still lasts runs out, soonest
        first."""

    async def bookings_since(self, user_id: str, since: datetime) -> tuple[int, datetime | None]:
        """How many reservations the user made after `since`, and when the oldest was."""


@dataclass(frozen=True)
class ReservationState:
    """Where a reservation stands, as reconciliation compares it with Stripe."""

    id: str
    status: str
    payment_intent_id: str | None


class MoneyReads(Protocol):
    """Read-only queries of the money jobs (overdue look-ups, reconciliation)."""

    async def overdue_session_ids(self, closed_before: datetime, limit: int) -> list[str]:
        """Sessions whose page closed before `closed_before`, their reservations still waiting."""

    async def applied(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """Which of these events `consumer` has applied."""

    async def reservation_states(
        self, reservation_ids: Sequence[str], payment_intent_ids: Sequence[str]
    ) -> list[ReservationState]:
        """The reservations with these ids or paid by these payment intents."""

    async def order_statuses(self, session_ids: Sequence[str]) -> dict[str, str]:
        """The status of the beat order of each of these sessions."""


class ReservationUnitOfWork(AbstractUnitOfWork):
    """One transaction of the reservation service, and what the use cases reach through it."""

    repo: Reservations
    orders: Orders
    refunds: Refunds
    disputes: Disputes
    checkout: CheckoutRecords
    facts: Facts
    quotas: Quotas
    reads: MoneyReads
    observer: PaymentObserver

    @abc.abstractmethod
    async def claim_many(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """The inbox claims of several events: the ids not processed before."""

    _loose: list[Event]

    async def __aenter__(self) -> Self:
        self._loose = []
        return await super().__aenter__()

    def record(self, event: Event) -> None:
        """An event no aggregate holds (a dispute's), published with the others."""
        self._loose.append(event)

    async def publish(self) -> list[Event]:
        """Take the events the aggregates recorded and act on them in this transaction: facts
        into the outbox, refund requests for the executor (it runs after the commit)."""
        # Called after every signal of a batch, over every aggregate the batch locked: a look
        # at each one's events, a copy only of those that recorded some.
        events: list[Event] = []
        aggregates: Iterable[Reservation | Order] = chain(
            self.repo.seen.values(), self.orders.seen.values()
        )
        for aggregate in aggregates:
            if aggregate.events:
                events.extend(aggregate.events)
                aggregate.events = []
        events.extend(self._loose)
        self._loose = []
        for event in events:
            if isinstance(event, RefundRequested):
                await self.refunds.request(
                    key=event.key,
                    origin="ours",
                    payment_intent_id=event.payment_intent_id,
                    amount=event.amount,
                    currency=event.currency,
                    reason=event.reason,
                    reservation_id=event.reservation_id,
                    session_id=event.session_id,
                    correlation_id=self.facts.correlation_id,
                )
                log.warning(
                    "refund.requested",
                    reservation_id=event.reservation_id,
                    refund_key=event.key,
                    reason=event.reason,
                    amount=event.amount,
                )
            elif isinstance(event, OrderFlagged):
                self.observer.order_flagged(event.reason)
                # No fact fits an order (ReservationFlaggedForReviewV1 is about one slot): the
                # row, this line and the metric are what an operator acts on.
                log.warning(
                    "order.flagged_for_review",
                    order_id=event.order_id,
                    reason=event.reason,
                    expected_amount=event.expected_amount,
                    expected_currency=event.expected_currency,
                    paid_amount=event.paid_amount,
                    paid_currency=event.paid_currency,
                    payment_intent_id=event.payment_intent_id,
                )
            else:
                self.facts.record(event)
        return events
