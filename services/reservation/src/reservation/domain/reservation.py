"""The reservation aggregate: its payment state machine in one place, recording domain events.

`Reservation.apply` takes what one checkout session's signal says (a `SessionPayment`), decides
with domain.payments.decide (order-independent: stages only advance, the newest session speaks)
and changes the reservation itself: processing, pending again, failed, expired, confirmed,
flagged for review, or, for money that cannot buy the slot, a refund requested. Refunds and
disputes move it too. Every change that the world must hear of appends an event to `events`
(domain.events); nothing here reads or writes anything but the object itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from contracts.reservation import (
    REFUND_REASON_DUPLICATE_PAYMENT,
    REFUND_REASON_LATE_PAYMENT_SLOT_TAKEN,
)
from reservation.domain.disputes import DisputeStage, on_dispute
from reservation.domain.events import (
    Booking,
    Confirmed,
    Event,
    Expired,
    FlaggedForReview,
    PaymentFailed,
    Refunded,
    RefundRequested,
)
from reservation.domain.model import Status
from reservation.domain.payments import Action, Attempt, Stage, advances, decide
from reservation.domain.refunds import refund_key

# Paid for: what a refund or a dispute of the payment applies to.
PAID: frozenset[Status] = frozenset({Status.SUCCEEDED, Status.NEEDS_REVIEW})
# Slot given up unpaid: a payment arriving now is late.
RELEASED: frozenset[Status] = frozenset({Status.EXPIRED, Status.CANCELLED})
_PAID_VALUES = frozenset(s.value for s in PAID)


@dataclass(frozen=True)
class SessionPayment:
    """What one checkout session's signal says to one of the reservations it pays."""

    attempt: Attempt
    payment_intent_id: str | None = None
    amount_total: int | None = None
    cart_total: int = 0
    currency: str | None = None
    paid_at: datetime | None = None
    failure_reason: str = "the payment did not go through"
    expires_at: datetime | None = None  # when the session's page closes, while it is open
    session_size: int = 1  # how many reservations the session pays


class LatePaymentNeedsSlot(ValueError):
    """A payment after the slot was freed: the caller must say whether the slot is free."""


@dataclass(eq=False)
class Reservation:
    """One reservation: its slot, price, status, payment, and the attempts at paying it."""

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
    status: Status
    hold_expires_at: datetime
    created_at: datetime
    updated_at: datetime
    current_session_id: str | None = None
    paid_session_id: str | None = None
    payment_intent_id: str | None = None
    paid_amount: int | None = None
    paid_currency: str | None = None
    paid_at: datetime | None = None
    refund_id: str | None = None
    refunded_at: datetime | None = None
    review_reason: str | None = None
    session_expires_at: datetime | None = None
    dispute_id: str | None = None
    status_before_dispute: str | None = None
    refunded_amount: int | None = None
    attempts: dict[str, Attempt] = field(default_factory=dict)
    # Attempts recorded or moved since the reservation was loaded (the repository writes them).
    recorded_attempts: dict[str, Attempt] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    @property
    def booking(self) -> Booking:
        """What every fact of this reservation says of the booking."""
        return Booking(
            self.id,
            self.reference,
            self.user_id,
            self.user_email,
            self.service_name,
            self.starts_at,
            self.ends_at,
            self.amount,
            self.currency,
            self.hold_expires_at,
        )

    @property
    def paid_total(self) -> int:
        """What its payment paid (our price when the payment did not say)."""
        return self.paid_amount if self.paid_amount is not None else self.amount

    @property
    def is_paid(self) -> bool:
        """Paid for (confirmed or flagged): what refunds and disputes apply to."""
        return self.status in PAID

    def needs_slot_check(self, payment: SessionPayment) -> bool:
        """Whether `apply` needs to know if the slot is free (a payment after it was freed)."""
        return payment.attempt.stage is Stage.PAID and self.status in RELEASED

    def apply(
        self,
        payment: SessionPayment,
        now: datetime,
        *,
        problem: str | None = None,
        slot_free: bool | None = None,
    ) -> Action:
        """Apply what a session says: record its attempt, act, and say what was done.

        `problem` is why a payment is not what we priced (it is then flagged, never confirmed);
        `slot_free` whether nobody else holds the slot, needed when `needs_slot_check`.
        """
        attempt = payment.attempt
        known = self.attempts.get(attempt.session_id)
        others = (a for s, a in self.attempts.items() if s != attempt.session_id)
        newest_other = max(others, key=lambda a: a.order_key, default=None)
        action = decide(
            self.status,
            self.paid_session_id,
            attempt,
            known,
            newest_other,
            hold_valid=self.hold_expires_at > now,
            amount_ok=problem is None,
        )
        if advances(known.stage if known else None, attempt.stage):
            # A known attempt keeps the creation time first recorded.
            created = known.created if known is not None else attempt.created
            moved = Attempt(attempt.session_id, created, attempt.stage)
            self.attempts[attempt.session_id] = moved
            self.recorded_attempts[attempt.session_id] = moved
        if action is Action.NOTHING:
            return action
        if action is Action.LATE_PAYMENT and slot_free is None:
            raise LatePaymentNeedsSlot(f"reservation {self.id}: is its slot free?")
        self.updated_at = now
        self._act(action, payment, now, problem=problem, slot_free=bool(slot_free))
        return action

    def _act(
        self,
        action: Action,
        payment: SessionPayment,
        now: datetime,
        *,
        problem: str | None,
        slot_free: bool,
    ) -> None:
        session_id = payment.attempt.session_id
        if action is Action.PROCESS:
            self.status, self.current_session_id = Status.PROCESSING, session_id
            # Until when the slot is really held (the overdue look-up, the API's hold).
            opened = payment.attempt.stage is Stage.OPEN
            self.session_expires_at = payment.expires_at if opened else None
        elif action is Action.RELEASE:
            self.status, self.current_session_id = Status.PENDING, session_id
        elif action is Action.EXPIRE:
            self.status, self.current_session_id = Status.EXPIRED, session_id
            self.events.append(Expired(self.booking, self.current_session_id))
        elif action is Action.FAIL:
            self.status, self.current_session_id = Status.FAILED, session_id
            self.events.append(PaymentFailed(self.booking, payment.failure_reason, session_id))
        elif action in (Action.CONFIRM, Action.FLAG):
            self._settle(payment, problem, now)
        elif action is Action.LATE_PAYMENT:
            if slot_free:
                # If a booking slips in meanwhile, the exclusion constraint fails the
                # transaction and the retry finds the slot taken: then the refund happens.
                self._settle(payment, problem, now)
            else:
                # It stays expired (the slot is someone else's) until Stripe has the refund:
                # `refunded` always comes with Stripe's refund id.
                self._request_refund(payment, REFUND_REASON_LATE_PAYMENT_SLOT_TAKEN)
        elif action is Action.REFUND_EXTRA:
            self._request_refund(payment, REFUND_REASON_DUPLICATE_PAYMENT)

    def _paid_portion(self, payment: SessionPayment) -> int:
        """What the session paid for this reservation: all of it but the cart when it paid
        this one alone, else our price (the session's total was checked against the sum)."""
        if payment.session_size == 1 and payment.amount_total is not None:
            return payment.amount_total - payment.cart_total
        return self.amount

    def _settle(self, payment: SessionPayment, problem: str | None, now: datetime) -> None:
        session_id = payment.attempt.session_id
        self.paid_session_id = self.current_session_id = session_id
        self.payment_intent_id = payment.payment_intent_id
        self.paid_amount = self._paid_portion(payment)
        self.paid_currency = (payment.currency or self.currency).lower()
        self.paid_at = payment.paid_at or now
        if problem is None:
            self.status = Status.SUCCEEDED
            self.events.append(
                Confirmed(
                    self.booking,
                    amount_paid=self.paid_amount,
                    currency=self.paid_currency,
                    session_id=session_id,
                    payment_intent_id=self.payment_intent_id,
                    paid_at=self.paid_at,
                )
            )
            return
        self.status, self.review_reason = Status.NEEDS_REVIEW, problem
        self.events.append(
            FlaggedForReview(
                self.booking,
                reason=problem,
                paid_amount=max(self.paid_amount, 0),
                paid_currency=self.paid_currency,
                session_id=session_id,
                payment_intent_id=self.payment_intent_id,
            )
        )

    def _request_refund(self, payment: SessionPayment, reason: str) -> None:
        session_id = payment.attempt.session_id
        if payment.payment_intent_id is None:
            raise RuntimeError(f"session {session_id} paid without a payment intent")
        self.events.append(
            RefundRequested(
                key=refund_key(self.id, session_id),
                reservation_id=self.id,
                payment_intent_id=payment.payment_intent_id,
                amount=self._paid_portion(payment),
                currency=(payment.currency or self.currency).lower(),
                reason=reason,
                session_id=session_id,
            )
        )

    def refund_ours(
        self,
        *,
        refund_id: str,
        amount: int,
        currency: str,
        reason: str,
        session_id: str | None,
        payment_intent_id: str | None,
        now: datetime,
    ) -> None:
        """A refund we requested is on its way back (once). A duplicate payment's refund leaves
        the booking and its own payment as they were; a late payment whose slot was taken is
        `refunded` now, unless another payment revived the reservation meanwhile."""
        if reason != REFUND_REASON_DUPLICATE_PAYMENT:
            self.refund_id, self.refunded_at = refund_id, now
            self.refunded_amount = (self.refunded_amount or 0) + amount
            self.updated_at = now
            if self.status in RELEASED:
                self.status = Status.REFUNDED
        self.events.append(
            Refunded(
                self.booking,
                amount=amount,
                currency=currency,
                refund_id=refund_id,
                reason=reason,
                session_id=session_id,
                payment_intent_id=payment_intent_id,
            )
        )

    def refund_in_full(
        self,
        *,
        refund_id: str,
        currency: str,
        reason: str,
        payment_intent_id: str,
        now: datetime,
    ) -> None:
        """All of its payment went back (a refund made in Stripe): the slot is free."""
        left = max(self.paid_total - (self.refunded_amount or 0), 0)
        self.status, self.refund_id = Status.REFUNDED, refund_id
        self.refunded_amount, self.refunded_at, self.updated_at = self.paid_total, now, now
        self._refunded(left, refund_id, currency, reason, payment_intent_id, partial=False)

    def refund_part(
        self,
        *,
        amount: int,
        refund_id: str,
        currency: str,
        reason: str,
        payment_intent_id: str,
        refunded_total: int,
        now: datetime,
    ) -> None:
        """Part of its payment went back (made in Stripe): the booking stands."""
        self.refunded_amount = (self.refunded_amount or 0) + amount
        self.updated_at = now
        self._refunded(
            amount, refund_id, currency, reason, payment_intent_id, refunded_total=refunded_total
        )

    def _refunded(
        self,
        amount: int,
        refund_id: str,
        currency: str,
        reason: str,
        payment_intent_id: str,
        *,
        partial: bool = True,
        refunded_total: int | None = None,
    ) -> None:
        self.events.append(
            Refunded(
                self.booking,
                amount=amount,
                currency=self.paid_currency or currency,
                refund_id=refund_id,
                reason=reason,
                session_id=self.paid_session_id,
                payment_intent_id=payment_intent_id,
                partial=partial,
                refunded_total=self.refunded_amount if refunded_total is None else refunded_total,
            )
        )

    def dispute(self, dispute_id: str, stage: DisputeStage, now: datetime) -> str | None:
        """A dispute of its payment reached `stage`: the new status, None if unchanged."""
        self.dispute_id = dispute_id
        moved = on_dispute(
            self.status.value,
            self.status_before_dispute,
            stage,
            paid=_PAID_VALUES,
            disputed=Status.DISPUTED.value,
            lost=Status.DISPUTE_LOST.value,
        )
        if moved is None:
            return None
        self.status, self.status_before_dispute = Status(moved.status), moved.before
        self.updated_at = now
        return moved.status
