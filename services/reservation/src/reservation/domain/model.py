"""Reservation statuses, slots and holds: what is live, bookable, cancellable."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Status(StrEnum):
    """Where a reservation stands; `needs_review`: paid, not what we priced, an operator acts."""

    PENDING = "pending"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"
    NEEDS_REVIEW = "needs_review"
    DISPUTED = "disputed"  # paid, the payer disputed it at their bank: the booking stands for now
    DISPUTE_LOST = "dispute_lost"  # the bank took the money back: the slot is free again


# Statuses that hold the slot: the exclusion constraint applies to exactly these. `failed` keeps
# the hold so the user can retry while it lasts; the sweep expires it afterwards. `disputed` keeps
# it too: the dispute may be won, and the slot must still be the user's then.
LIVE_STATUSES: frozenset[Status] = frozenset(
    {
        Status.PENDING,
        Status.PROCESSING,
        Status.SUCCEEDED,
        Status.FAILED,
        Status.NEEDS_REVIEW,
        Status.DISPUTED,
    }
)
# Holds that the sweep ends once their time is up (processing waits for Stripe's word).
SWEEPABLE_STATUSES: frozenset[Status] = frozenset({Status.PENDING, Status.FAILED})
PAYABLE_STATUSES: frozenset[Status] = frozenset({Status.PENDING, Status.FAILED})
CANCELLABLE_STATUSES: frozenset[Status] = frozenset({Status.PENDING, Status.FAILED})
# What nothing but a refund (or nothing at all) changes any more.
SETTLED_STATUSES: frozenset[Status] = frozenset(
    {Status.SUCCEEDED, Status.NEEDS_REVIEW, Status.REFUNDED, Status.DISPUTED, Status.DISPUTE_LOST}
)


class BookingError(ValueError):
    """A booking request that cannot be honoured as given; `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class StudioService:
    """A bookable studio service: how long it lasts, what it costs, which room it occupies."""

    id: str
    name: str
    duration_minutes: int
    price: int
    currency: str
    resource: str


@dataclass(frozen=True)
class Slot:
    """A half-open time range [starts_at, ends_at) on one studio resource."""

    resource: str
    starts_at: datetime
    ends_at: datetime

    def describe(self) -> str:
        """How a conflict names the slot."""
        return f"{self.resource} {self.starts_at.isoformat()}/{self.ends_at.isoformat()}"


def plan_slot(service: StudioService, starts_at: datetime, now: datetime) -> Slot:
    """The slot a booking of `service` at `starts_at` occupies; BookingError if it cannot be."""
    if starts_at.tzinfo is None or starts_at.utcoffset() is None:
        raise BookingError("starts_at", "starts_at must carry a time zone offset")
    if starts_at <= now:
        raise BookingError("starts_at", "starts_at must be in the future")
    return Slot(
        resource=service.resource,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=service.duration_minutes),
    )


def hold_expiry(now: datetime, hold_minutes: int, starts_at: datetime) -> datetime:
    """When an unpaid hold lapses: after `hold_minutes`, and never after the slot starts."""
    return min(now + timedelta(minutes=hold_minutes), starts_at)


def held_until(
    status: str, hold_expires_at: datetime, session_expires_at: datetime | None
) -> datetime:
    """Until when the slot is really held, as the API shows it.

    An unpaid hold lasts until `hold_expires_at`. While a Stripe page is open (`processing`
    with the session's `expires_at` known), the slot is not swept: it stays held until that page
    closes, later than the hold when Stripe's 30-minute floor outlives it. Then the page's
    end is the truth, give or take the overdue grace if Stripe's `expired` event is lost.
    """
    if status == Status.PROCESSING and session_expires_at is not None:
        return max(hold_expires_at, session_expires_at)
    return hold_expires_at


def new_reference() -> str:
    """A short booking reference shown to the user, e.g. RSV-7Q4K2M (no 0/O/1/I ambiguity)."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "RSV-" + "".join(secrets.choice(alphabet) for _ in range(6))
