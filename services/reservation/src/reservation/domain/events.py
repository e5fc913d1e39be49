"""Domain events: what happened to a reservation, an order or a dispute, in the past tense.

Aggregates append them to their `events` as their state changes; the unit of work takes them
after each use case and adapters.facts turns them into the public contract facts of the outbox
(RefundRequested becomes a refund request the refund executor carries out after the commit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reservation.domain.orders import OrderLine


@dataclass(frozen=True)
class Booking:
    """What every reservation fact says of the booking itself."""

    id: str
    reference: str
    user_id: str
    user_email: str
    service_name: str
    starts_at: datetime
    ends_at: datetime
    amount: int
    currency: str
    hold_expires_at: datetime


@dataclass(frozen=True)
class Confirmed:
    """The reservation is paid and the slot is the user's."""

    booking: Booking
    amount_paid: int
    currency: str
    session_id: str
    payment_intent_id: str | None
    paid_at: datetime | None


@dataclass(frozen=True)
class FlaggedForReview:
    """Paid, but not what we priced (or not what checkout created): an operator acts."""

    booking: Booking
    reason: str
    paid_amount: int
    paid_currency: str
    session_id: str
    payment_intent_id: str | None


@dataclass(frozen=True)
class PaymentFailed:
    """An attempt failed; the hold stays for a retry."""

    booking: Booking
    reason: str
    session_id: str | None


@dataclass(frozen=True)
class Expired:
    """The hold ran out unpaid; the slot is free."""

    booking: Booking
    session_id: str | None


@dataclass(frozen=True)
class RefundRequested:
    """We decided to give a payment back (carried out after the commit, idempotently by `key`)."""

    key: str
    reservation_id: str
    payment_intent_id: str
    amount: int
    currency: str
    reason: str
    session_id: str


@dataclass(frozen=True)
class Refunded:
    """Money went back to the user (`partial`: part of it, the booking stands)."""

    booking: Booking
    amount: int
    currency: str
    refund_id: str
    reason: str
    session_id: str | None
    payment_intent_id: str | None
    partial: bool = False
    refunded_total: int | None = None


@dataclass(frozen=True)
class OrderConfirmed:
    """A beats order is paid as sold."""

    order_id: str
    user_id: str
    user_email: str
    payment_intent_id: str | None
    lines: tuple[OrderLine, ...]
    currency: str


@dataclass(frozen=True)
class OrderFlagged:
    """A paid beats order differs from what was sold (no fact fits: a log line and a metric)."""

    order_id: str
    reason: str
    expected_amount: int
    expected_currency: str
    paid_amount: int | None
    paid_currency: str | None
    payment_intent_id: str | None


@dataclass(frozen=True)
class OrderRefunded:
    """Money for a beats order went back to the user."""

    order_id: str
    user_id: str
    user_email: str
    payment_intent_id: str | None
    amount: int
    currency: str
    refund_id: str
    reason: str
    partial: bool


@dataclass(frozen=True)
class DisputeMoved:
    """A dispute opened (stage `open`) or closed (`won`, `lost`), with what it paid for."""

    dispute_id: str
    stage: str
    user_id: str
    user_email: str
    payment_intent_id: str | None
    charge_id: str | None
    amount: int
    currency: str
    reason: str | None
    stripe_status: str
    reservation_ids: tuple[str, ...]
    order_id: str | None
    evidence_due_by: datetime | None = None


Event = (
    Confirmed
    | FlaggedForReview
    | PaymentFailed
    | Expired
    | RefundRequested
    | Refunded
    | OrderConfirmed
    | OrderFlagged
    | OrderRefunded
    | DisputeMoved
)
