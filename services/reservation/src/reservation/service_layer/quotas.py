"""Booking limits per user: where a start may fall, how many holds one user keeps, how often.

Without them one account could hold the whole calendar, or book and cancel in a loop and have
hold-expiry e-mails sent to any address it types. Counts come from the reservations table itself
(no in-process counters; the queries are `uow.quotas`, adapters.quota_store on PostgreSQL), so
every API worker applies the same limits; a transaction-scoped advisory lock per user makes the
count and the insert one step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reservation.domain.model import BookingError, Status
from reservation.service_layer.ports import ReservationUnitOfWork

# Unpaid holds that keep a slot from others: pending, a checkout page open, a failed attempt.
HOLDING: frozenset[str] = frozenset({Status.PENDING, Status.PROCESSING, Status.FAILED})


@dataclass(frozen=True)
class BookingLimits:
    """The limits the API applies (from settings); None switches one off."""

    horizon_days: int = 365
    grid_minutes: int = 15
    max_live_holds: int | None = 5
    max_bookings: int | None = 20
    window_s: int = 3600


class QuotaExceeded(RuntimeError):
    """The user has too many holds or booked too often; retry after `retry_after_s`."""

    def __init__(self, code: str, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after_s = max(1, retry_after_s)


def check_start(starts_at: datetime, now: datetime, limits: BookingLimits) -> None:
    """A start within the horizon and on the slot grid; BookingError naming starts_at if not.

    Checked before any arithmetic on the date, so 9999-12-31 is a 422, not an overflow.
    """
    if starts_at.tzinfo is None or starts_at.utcoffset() is None:
        raise BookingError("starts_at", "starts_at must carry a time zone offset")
    if starts_at <= now:  # before converting: year 1 at +14:00 has no UTC equivalent
        raise BookingError("starts_at", "starts_at must be in the future")
    if starts_at - now > timedelta(days=limits.horizon_days):
        raise BookingError("starts_at", f"starts_at is more than {limits.horizon_days} days ahead")
    utc = starts_at.astimezone(UTC)
    if utc.second or utc.microsecond or utc.minute % limits.grid_minutes:
        raise BookingError(
            "starts_at", f"starts_at must fall on the {limits.grid_minutes}-minute slot grid"
        )


async def enforce(
    uow: ReservationUnitOfWork, user_id: str, now: datetime, limits: BookingLimits
) -> None:
    """Inside the booking's transaction: QuotaExceeded when a new hold would pass a limit."""
    quotas = uow.quotas
    # Serialises this user's bookings until commit: two at once cannot both pass the count.
    await quotas.lock_user(user_id)
    if limits.max_live_holds is not None:
        expiries = await quotas.live_hold_expiries(user_id, HOLDING, now)
        if len(expiries) >= limits.max_live_holds:
            first: datetime = expiries[len(expiries) - limits.max_live_holds]
            raise QuotaExceeded(
                "too_many_holds",
                f"at most {limits.max_live_holds} unpaid holds at once: pay or cancel one",
                math.ceil((first - now).total_seconds()),
            )
    if limits.max_bookings is not None:
        since = now - timedelta(seconds=limits.window_s)
        count, oldest = await quotas.bookings_since(user_id, since)
        if count >= limits.max_bookings and oldest is not None:
            raise QuotaExceeded(
                "booking_rate_limited",
                f"at most {limits.max_bookings} bookings per {limits.window_s} s",
                math.ceil((oldest - since).total_seconds()),
            )
