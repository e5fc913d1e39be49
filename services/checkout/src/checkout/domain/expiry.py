"""When a Checkout Session expires: no later than the hold, within Stripe's 30 min-24 h window.

Stripe refuses `expires_at` less than 30 minutes ahead. A hold that ends sooner (the default hold
is 30 minutes from booking, so this is the common case) does NOT refuse the payment: the session
gets the shortest lifetime Stripe allows, and the reservation service owns the slot meanwhile. It
keeps a reservation with an open session in `processing`, which its hold sweep leaves alone, and
releases or expires it on `checkout.session.expired`; a payment that lands after the slot was given
away is refunded there (Action.LATE_PAYMENT). Refusing instead would fail almost every checkout.

The value is deterministic within a minute, so a double click sends Stripe identical parameters
under the same idempotency key (Stripe refuses a key reused with different parameters).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

STRIPE_MAX_LIFETIME = timedelta(hours=24)
# Room under Stripe's 24 h ceiling for clock skew and our retries.
_MAX_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class Expiry:
    """The session's expires_at, and whether it outlives the hold (Stripe's 30 min floor)."""

    at: datetime
    extends_hold: bool

    @property
    def unix(self) -> int:
        """As Stripe takes it."""
        return int(self.at.timestamp())


def _floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _ceil_minute(moment: datetime) -> datetime:
    floor = _floor_minute(moment)
    return floor if floor == moment else floor + timedelta(minutes=1)


def session_expiry(
    now: datetime,
    hold_ends_at: datetime | None,
    *,
    min_lifetime: timedelta,
    beats_lifetime: timedelta,
) -> Expiry:
    """The expiry of a session created at `now`; `hold_ends_at` None means beats only."""
    now = now.astimezone(UTC)
    earliest = _ceil_minute(now + min_lifetime)
    latest = _floor_minute(now + STRIPE_MAX_LIFETIME - _MAX_MARGIN)
    if hold_ends_at is None:
        return Expiry(min(max(_floor_minute(now + beats_lifetime), earliest), latest), False)
    hold = hold_ends_at.astimezone(UTC).replace(microsecond=0)
    if hold < earliest:
        return Expiry(earliest, True)
    return Expiry(min(hold, latest), False)
