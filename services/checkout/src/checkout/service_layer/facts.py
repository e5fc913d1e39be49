"""The CheckoutSessionCreatedV1 fact of a recorded session, as an outbox record."""

from __future__ import annotations

import uuid
from datetime import datetime

from checkout.domain.model import Order
from checkout.domain.sessions import CheckoutSession
from contracts import headers as h
from contracts.checkout import CHECKOUT_SESSION_CREATED_V1, CheckoutSessionCreatedV1
from contracts.reservation import OrderItemV1
from contracts.topics import CHECKOUT_SESSIONS


def session_created(
    order: Order,
    row: CheckoutSession,
    request_id: str | None,
    *,
    event_id: uuid.UUID,
    stripe_created: datetime,
) -> tuple[str, bytes, bytes, list[tuple[str, str]]]:
    """(topic, value, key, headers) of the fact, keyed by the session id.

    The fact occurred when Stripe created the session (`stripe_created`, Stripe's clock and
    whole seconds): the reservation worker orders a reservation's sessions by that time, from
    this fact or from Stripe's events alike, so both sources must say the same.
    """
    fact = CheckoutSessionCreatedV1(
        event_id=event_id,
        occurred_at=stripe_created,
        # The session id follows the payment: Stripe's events about it are keyed and correlated
        # by it at ingest, so every service's log lines about this payment share one id.
        correlation_id=row.session_id,
        session_id=row.session_id,
        user_id=order.user_id,
        user_email=order.user_email,
        checkout_type=order.checkout_type,
        reservation_ids=order.reservation_ids,
        cart_item_ids=order.cart_item_ids,
        # Titles and prices from our catalog, as sold: the reservation worker confirms the
        # order from them once Stripe says the session is paid.
        cart_items=[OrderItemV1(item_id=b.id, title=b.title, price=b.price) for b in order.beats],
        services_total=order.services_total,
        cart_total=order.cart_total,
        order_total=order.order_total,
        currency=order.currency,
        expires_at=row.expires_at,
        url=row.url,
    )
    headers = h.fact_headers(
        event_id, CHECKOUT_SESSION_CREATED_V1, row.session_id, request_id=request_id
    )
    return CHECKOUT_SESSIONS, fact.model_dump_json().encode(), row.session_id.encode(), headers
