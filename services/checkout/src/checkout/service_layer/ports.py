"""What the checkout use cases take and give: requests, policy, results, and the adapters' shape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from checkout.adapters.stripe_gateway import StripeSession
from checkout.adapters.tables import CheckoutSessionRow
from checkout.domain.model import PricedReservation


class ReservationSource(Protocol):
    """Prices the caller's payable reservations (the reservation service)."""

    async def payable(
        self, reservation_ids: Sequence[str], token: str, request_id: str | None
    ) -> list[PricedReservation]: ...


class PaymentGateway(Protocol):
    """Creates, reads and expires Checkout Sessions (Stripe)."""

    async def create_session(
        self, params: dict[str, Any], idempotency_key: str
    ) -> StripeSession: ...

    async def retrieve_session(self, session_id: str) -> StripeSession: ...

    async def expire_session(self, session_id: str) -> StripeSession: ...


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

    session: CheckoutSessionRow
    created: bool
