"""The Stripe create request of a checkout, stored before it is sent and resent exactly on retry.

Stripe refuses an Idempotency-Key reused with other parameters, and `expires_at` moves with the
clock. So the request (key and exact parameters, `expires_at` included) is stored first; a retry
after a lost answer (timeout, closed connection, a crash before recording) resends exactly that
and Stripe answers the session it made, or makes it now. A new key generation is taken only when
the parameters must change (other prices or e-mail) or the key is spent: Stripe stored a 5xx
answer under it (it replays that to every retry), refused the parameters, or its session ended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from checkout.domain.expiry import Expiry
from checkout.domain.model import Order
from checkout.domain.sessions import CheckoutAttempt, CheckoutSession
from checkout.service_layer.ports import StripeSession
from checkout.service_layer.unit_of_work import CheckoutUnitOfWork

PENDING = "pending"
CREATED = "created"
BURNED = "burned"
REFUSED = "refused"
ENDED = "ended"


@dataclass(frozen=True)
class Urls:
    """Where Stripe sends the user back."""

    success_url: str
    cancel_url: str


@dataclass(frozen=True)
class Fresh:
    """Parameters computed now for a new key generation, and the expiry they carry."""

    params: dict[str, Any]
    expiry: Expiry


def resendable(latest: CheckoutAttempt | None, order: Order) -> bool:
    """Whether the newest stored attempt is to be sent again, unchanged, for this order."""
    return (
        latest is not None
        and latest.state == PENDING
        and latest.idempotency_key == order.idempotency_key(latest.generation)
    )


def next_generation(previous: list[CheckoutSession], latest: CheckoutAttempt | None) -> int:
    """One past every generation used so far by sessions or attempts of these items."""
    used = [r.generation for r in previous]
    if latest is not None:
        used.append(latest.generation)
    return max(used, default=-1) + 1


def new_attempt(
    order: Order, generation: int, params: dict[str, Any], expiry: Expiry, now: datetime
) -> CheckoutAttempt:
    """The attempt to store before sending it."""
    return CheckoutAttempt(
        idempotency_key=order.idempotency_key(generation),
        user_id=order.user_id,
        fingerprint=order.fingerprint,
        generation=generation,
        params=params,
        extends_hold=expiry.extends_hold,
        state=PENDING,
        created_at=now,
        updated_at=now,
    )


def session_params(order: Order, expiry: Expiry, urls: Urls) -> dict[str, Any]:
    """The Checkout Session create parameters of an order."""
    metadata = order.metadata().to_stripe_metadata()
    return {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": item.currency,
                    "unit_amount": item.unit_amount,
                    "product_data": {"name": item.name},
                },
            }
            for item in order.line_items
        ],
        "client_reference_id": order.user_id,
        "customer_email": order.user_email,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata, "description": order.description},
        "success_url": urls.success_url,
        "cancel_url": urls.cancel_url,
        "expires_at": expiry.unix,
    }


def session_row(
    order: Order,
    *,
    session: StripeSession,
    attempt: CheckoutAttempt,
    request_id: str | None,
) -> CheckoutSession:
    """The record of a session Stripe made for an attempt."""
    now = datetime.now(UTC)
    return CheckoutSession(
        session_id=session.id,
        user_id=order.user_id,
        user_email=order.user_email,
        fingerprint=order.fingerprint,
        generation=attempt.generation,
        idempotency_key=attempt.idempotency_key,
        checkout_type=order.checkout_type,
        reservation_ids=order.reservation_ids,
        cart_item_ids=order.cart_item_ids,
        services_total=order.services_total,
        cart_total=order.cart_total,
        order_total=order.order_total,
        currency=order.currency,
        url=session.url or "",
        status=session.status,
        payment_status=session.payment_status,
        expires_at=session.expires_at,
        extends_hold=attempt.extends_hold,
        request_id=request_id,
        created_at=now,
        updated_at=now,
    )


async def store(
    uow: Callable[[], CheckoutUnitOfWork],
    order: Order,
    fresh: Fresh,
    *,
    previous: list[CheckoutSession],
    latest: CheckoutAttempt | None,
    now: datetime,
) -> CheckoutAttempt:
    """A new key generation with fresh parameters, stored before it is sent.

    A concurrent twin may have stored the same key first: its parameters are the ones sent.
    """
    generation = next_generation(previous, latest)
    async with uow() as work:
        stored = await work.repo.add_attempt(
            new_attempt(order, generation, fresh.params, fresh.expiry, now)
        )
        await work.commit()
    return stored


async def close(
    uow: Callable[[], CheckoutUnitOfWork],
    attempt: CheckoutAttempt,
    state: str,
    now: datetime,
    *,
    session_id: str | None = None,
) -> None:
    """Record how an attempt ended; a later request does not resend it."""
    async with uow() as work:
        await work.repo.set_attempt_state(attempt.idempotency_key, state, now, session_id)
        await work.commit()
