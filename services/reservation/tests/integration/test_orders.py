"""Beats orders through the worker's handler against the real database: confirmed exactly once,
whichever of checkout's fact and Stripe's payment arrives first, for beats-only and mixed carts."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from backbone.kafka import Message
from contracts import stripe as s
from contracts.checkout import CheckoutSessionCreatedV1
from contracts.reservation import OrderConfirmedV1, OrderItemV1, ReservationConfirmedV1
from reservation.adapters.metrics import ORDERS_FLAGGED
from reservation.adapters.tables import ReservationRow
from reservation.bootstrap import Container

from ..conftest import (
    checkout_message,
    outbox_facts,
    reservation_state,
    stripe_event,
    stripe_message,
)

pytestmark = pytest.mark.integration

Book = Callable[..., Any]
BEATS = (
    OrderItemV1(item_id="beat_midnight_tape", title="Midnight Tape", price=2999),
    OrderItemV1(item_id="beat_low_tide", title="Low Tide", price=1999),
)
CART_TOTAL = 2999 + 1999
USER, EMAIL = "user_beats", "beats@example.com"


def _sid() -> str:
    return f"cs_test_{uuid.uuid4().hex}"


def _fact(
    sid: str,
    reservations: tuple[ReservationRow, ...] = (),
    *,
    with_items: bool = True,
) -> Message:
    services = sum(r.amount for r in reservations)
    now = datetime.now(UTC)
    fact = CheckoutSessionCreatedV1(
        event_id=uuid.uuid4(),
        occurred_at=now,
        correlation_id=sid,
        session_id=sid,
        user_id=USER,
        user_email=EMAIL,
        checkout_type="mixed_cart" if reservations else "beats_only",
        reservation_ids=[r.id for r in reservations],
        cart_item_ids=[b.item_id for b in BEATS],
        cart_items=list(BEATS) if with_items else [],
        services_total=services,
        cart_total=CART_TOTAL,
        order_total=services + CART_TOTAL,
        currency="eur",
        expires_at=now + timedelta(hours=1),
        url=f"https://checkout.example/{sid}",
    )
    return checkout_message(fact)


def _event(
    event_type: str,
    sid: str,
    reservations: tuple[ReservationRow, ...] = (),
    *,
    payment_status: str = "paid",
    amount_total: int | None = None,
    currency: str = "eur",
) -> Message:
    services = sum(r.amount for r in reservations)
    total = services + CART_TOTAL if amount_total is None else amount_total
    metadata = {
        "userId": USER,
        "userEmail": EMAIL,
        "type": "mixed_cart" if reservations else "beats_only",
        "cartItemIds": ",".join(b.item_id for b in BEATS),
        "servicesCount": str(len(reservations)),
        "servicesTotal": str(services),
        "cartCount": str(len(BEATS)),
        "cartTotal": str(CART_TOTAL),
        "orderTotal": str(services + CART_TOTAL),
    }
    if reservations:
        metadata["reservationIds"] = ",".join(r.id for r in reservations)
    event = stripe_event(
        event_type,
        sid,
        list(reservations),
        payment_status=payment_status,
        amount_total=total,
        currency=currency,
        metadata=metadata,
    )
    return stripe_message(event)


def _order(database_url: str, sid: str) -> dict[str, Any]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        row = conn.execute("SELECT * FROM orders WHERE session_id = %s", (sid,)).fetchone()
    assert row is not None, f"no order for {sid}"
    return dict(row)


def _orders_confirmed(database_url: str) -> list[OrderConfirmedV1]:
    return [f for f in outbox_facts(database_url) if isinstance(f, OrderConfirmedV1)]


def _assert_confirmed_once(database_url: str, sid: str) -> OrderConfirmedV1:
    [fact] = _orders_confirmed(database_url)
    assert fact.order_id == fact.session_id == sid
    assert [(i.item_id, i.title, i.price) for i in fact.items] == [
        (b.item_id, b.title, b.price) for b in BEATS
    ]
    assert (fact.total, fact.currency) == (CART_TOTAL, "eur")
    assert (fact.user_id, fact.user_email) == (USER, EMAIL)
    assert fact.payment_intent_id == f"pi_{sid[-12:]}"
    order = _order(database_url, sid)
    assert order["status"] == "confirmed"
    assert order["confirmed_at"] is not None
    assert (order["paid_amount"], order["total"]) == (CART_TOTAL, CART_TOTAL)
    return fact


async def test_beats_only_fact_then_payment_confirms_once(
    container: Container, reservation_db: str
) -> None:
    sid = _sid()
    await container.batch_handler([_fact(sid)])
    assert _order(reservation_db, sid)["status"] == "open"
    assert outbox_facts(reservation_db) == []

    paid = _event(s.CHECKOUT_SESSION_COMPLETED, sid)
    for message in (paid, paid, _fact(sid)):  # a redelivery, a republished fact: no-ops
        await container.batch_handler([message])

    _assert_confirmed_once(reservation_db, sid)


async def test_beats_only_payment_before_the_fact_waits_then_confirms(
    container: Container, reservation_db: str
) -> None:
    sid = _sid()
    await container.batch_handler([_event(s.CHECKOUT_SESSION_COMPLETED, sid)])
    waiting = _order(reservation_db, sid)
    # Recorded from the Stripe metadata: the cart and its total, no titles yet; the payment
    # waits for checkout's fact (service_layer.provenance) before it counts.
    assert (waiting["status"], waiting["items"], waiting["total"]) == ("open", None, CART_TOTAL)
    assert waiting["cart_item_ids"] == [b.item_id for b in BEATS]
    assert waiting["paid_at"] is None
    assert outbox_facts(reservation_db) == []

    fact = _fact(sid)
    await container.batch_handler([fact])
    await container.batch_handler([fact])
    _assert_confirmed_once(reservation_db, sid)


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))), ids=str)
async def test_any_order_and_duplicates_converge(
    container: Container, reservation_db: str, order: tuple[int, ...]
) -> None:
    sid = _sid()
    messages = [
        _fact(sid),
        _event(s.CHECKOUT_SESSION_COMPLETED, sid, payment_status="unpaid"),
        _event(s.CHECKOUT_SESSION_ASYNC_PAYMENT_SUCCEEDED, sid),
    ]
    for index in order:
        await container.batch_handler([messages[index]])
        await container.batch_handler([messages[index]])
    _assert_confirmed_once(reservation_db, sid)


async def test_fact_and_payment_handled_side_by_side_confirm_once(
    container: Container, reservation_db: str
) -> None:
    # The worker runs partitions in parallel: checkout.sessions and stripe.events records of one
    # session may be handled at the same moment.
    sids = [_sid() for _ in range(5)]
    await asyncio.gather(
        *(
            container.batch_handler([message])
            for sid in sids
            for message in (_fact(sid), _event(s.CHECKOUT_SESSION_COMPLETED, sid))
        )
    )
    facts = _orders_confirmed(reservation_db)
    assert sorted(f.order_id for f in facts) == sorted(sids)


async def test_unpaid_or_expired_sessions_confirm_nothing(
    container: Container, reservation_db: str
) -> None:
    delayed, expired = _sid(), _sid()
    await container.batch_handler([_fact(delayed)])
    await container.batch_handler(
        [_event(s.CHECKOUT_SESSION_COMPLETED, delayed, payment_status="unpaid")]
    )
    await container.batch_handler([_event(s.CHECKOUT_SESSION_ASYNC_PAYMENT_FAILED, delayed)])
    await container.batch_handler([_fact(expired)])
    await container.batch_handler(
        [_event(s.CHECKOUT_SESSION_EXPIRED, expired, payment_status="unpaid")]
    )
    assert outbox_facts(reservation_db) == []
    assert _order(reservation_db, delayed)["status"] == "open"
    assert _order(reservation_db, expired)["status"] == "open"


@pytest.mark.parametrize(
    ("amount_total", "currency", "reason"),
    [(CART_TOTAL - 1, "eur", "amount_mismatch"), (CART_TOTAL, "usd", "currency_mismatch")],
)
async def test_a_payment_that_differs_from_the_sale_is_flagged_not_confirmed(
    container: Container, reservation_db: str, amount_total: int, currency: str, reason: str
) -> None:
    sid = _sid()
    flagged = ORDERS_FLAGGED.labels(reason)._value.get()
    await container.batch_handler(
        [_event(s.CHECKOUT_SESSION_COMPLETED, sid, amount_total=amount_total, currency=currency)]
    )
    await container.batch_handler([_fact(sid)])
    await container.batch_handler([_fact(sid)])
    order = _order(reservation_db, sid)
    assert (order["status"], order["review_reason"]) == ("needs_review", reason)
    assert order["confirmed_at"] is None
    assert outbox_facts(reservation_db) == []
    assert ORDERS_FLAGGED.labels(reason)._value.get() == flagged + 1


async def test_a_fact_from_an_older_checkout_without_items_confirms_nothing(
    container: Container, reservation_db: str
) -> None:
    sid = _sid()
    await container.batch_handler([_fact(sid, with_items=False)])
    await container.batch_handler([_event(s.CHECKOUT_SESSION_COMPLETED, sid)])
    order = _order(reservation_db, sid)
    assert (order["status"], order["items"]) == ("open", None)
    assert order["paid_at"] is not None
    assert outbox_facts(reservation_db) == []


@pytest.mark.parametrize("fact_first", [True, False], ids=["fact_first", "payment_first"])
async def test_mixed_cart_confirms_the_reservations_and_the_order(
    container: Container, book: Book, reservation_db: str, fact_first: bool
) -> None:
    rows = (
        await book(user_id=USER, email=EMAIL, service_id="mixing"),
        await book(user_id=USER, email=EMAIL, service_id="mastering"),
    )
    sid = _sid()
    fact, paid = _fact(sid, rows), _event(s.CHECKOUT_SESSION_COMPLETED, sid, rows)
    for message in (fact, paid, paid) if fact_first else (paid, fact, fact):
        await container.batch_handler([message])

    for row in rows:
        state = reservation_state(reservation_db, row.id)
        assert (state["status"], state["paid_amount"]) == ("succeeded", row.amount)
    facts = outbox_facts(reservation_db)
    confirmed = [f for f in facts if isinstance(f, ReservationConfirmedV1)]
    assert sorted(f.reservation_id for f in confirmed) == sorted(r.id for r in rows)
    assert len(facts) == 3
    _assert_confirmed_once(reservation_db, sid)
