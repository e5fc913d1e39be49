"""What the checkout use cases take and give: requests, policy, results, and the adapters' shape.

The use cases are written against these: the PostgreSQL repository, Stripe, the reservation API
and the Prometheus counters in `checkout.adapters` implement them, and the unit tests' fakes
(`tests/unit/fakes.py`) do too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from checkout.domain.model import Beat, PricedReservation
from checkout.domain.sessions import CheckoutAttempt, CheckoutSession


@dataclass(frozen=True)
class StripeSession:
    """What checkout keeps of a Checkout Session as Stripe answers it."""

    id: str
    url: str | None
    status: str
    payment_status: str
    amount_total: int
    currency: str
    expires_at: datetime
    created: datetime


class ReservationSource(Protocol):
    """Prices the caller's payable reservations (the reservation service).

    Raises ReservationRefused (not the caller's, not payable now) or
    ReservationServiceUnavailable.
    """

    async def payable(
        self, reservation_ids: Sequence[str], token: str, request_id: str | None
    ) -> list[PricedReservation]: ...


class SessionExpirer(Protocol):
    """Expires and reads Checkout Sessions (Stripe)."""

    async def expire_session(self, session_id: str) -> StripeSession: ...

    async def retrieve_session(self, session_id: str) -> StripeSession: ...


class PaymentGateway(SessionExpirer, Protocol):
    """Creates, reads and expires Checkout Sessions (Stripe).

    Raises StripeUnavailable (retryable; `replayed` when Stripe stored the 5xx under the key),
    StripeRefused, or StripeIdempotencyConflict.
    """

    async def create_session(
        self, params: dict[str, Any], idempotency_key: str
    ) -> StripeSession: ...


class CheckoutRepository(Protocol):
    """The beats catalog, the recorded sessions and the stored attempts, inside one transaction
    (it never commits: the unit of work does)."""

    async def beats(self, ids: Sequence[str]) -> dict[str, Beat]:
        """The active beats among `ids`, by id."""
        ...

    async def active_beats(self) -> list[Beat]:
        """Every beat on sale, cheapest first (the page's catalog)."""
        ...

    async def add_session(self, session: CheckoutSession) -> bool:
        """Record a session; False when it was recorded already (a replayed create)."""
        ...

    async def get(self, session_id: str) -> CheckoutSession | None:
        """One recorded session."""
        ...

    async def for_items(self, user_id: str, fingerprint: str) -> list[CheckoutSession]:
        """The user's sessions for exactly these items, newest generation first."""
        ...

    async def set_status(
        self, session_id: str, status: str, payment_status: str, now: datetime
    ) -> None:
        """Keep Stripe's latest word on a session."""
        ...

    async def latest_attempt(self, user_id: str, fingerprint: str) -> CheckoutAttempt | None:
        """The newest Stripe create request for these items, if any."""
        ...

    async def add_attempt(self, attempt: CheckoutAttempt) -> CheckoutAttempt:
        """Store an attempt; a concurrent twin's attempt under the same key wins and is returned."""
        ...

    async def set_attempt_state(
        self, key: str, state: str, now: datetime, session_id: str | None = None
    ) -> None:
        """Record how an attempt ended (its session when Stripe made one)."""
        ...

    async def supersede(self, row: CheckoutSession, now: datetime) -> list[str]:
        """Mark the user's other open sessions for the same reservations (or the same items) as
        to be expired at Stripe; their ids."""
        ...

    async def fact_sent(self, session_id: str) -> bool:
        """Whether the relay published the session's CheckoutSessionCreatedV1 (keyed by its id)."""
        ...

    async def pending_expiries(self, limit: int, marked_before: datetime) -> list[str]:
        """Superseded sessions still to be expired at Stripe, marked before then, oldest first."""
        ...

    async def expiry_done(
        self, session_id: str, status: str, payment_status: str, now: datetime
    ) -> None:
        """Stripe expired the superseded session (or it had ended already): nothing left to do."""
        ...


class CheckoutMetrics(Protocol):
    """What the use cases count (Prometheus in production)."""

    def session_answered(self, checkout_type: str, outcome: str) -> None:
        """A create request answered with a session: created, replayed or reused."""
        ...

    def superseded(self, outcome: str) -> None:
        """A superseded session settled (expired, ended) or deferred (Stripe unavailable)."""
        ...


@dataclass(frozen=True)
class CheckoutRequest:
    """Who asks to pay for what: ids only, never amounts."""

    user_id: str
    user_email: str | None
    token: str
    request_id: str | None
    reservation_ids: Sequence[str]
    cart_item_ids: Sequence[str]


@dataclass(frozen=True)
class CheckoutPolicy:
    """Where Stripe sends the user back, how long sessions live, how long a status is reused."""

    success_url: str
    cancel_url: str
    min_lifetime: timedelta
    beats_lifetime: timedelta
    status_ttl: timedelta = timedelta(seconds=5)


@dataclass(frozen=True)
class CheckoutResult:
    """The session to redirect to; `created` is False when an open one was answered again."""

    session: CheckoutSession
    created: bool
