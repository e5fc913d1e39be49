"""Every payment transition through the worker's handler, against the real database.

The handler is the function the Faust agent calls; here it gets Message objects directly, so each
test sees one transaction per message exactly as the worker does, without a broker round trip.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe

from contracts import stripe as s
from contracts.reservation import (
    ReservationConfirmedV1,
    ReservationExpiredV1,
    ReservationFlaggedForReviewV1,
    ReservationPaymentFailedV1,
    ReservationRefundedV1,
)
from devstack.testing import distinct_slot
from reservation.bootstrap import Container
from reservation.service_layer.sweep import expire_due_holds

from ..conftest import (
    checkout_fact,
    checkout_message,
    emulator_paid_event,
    outbox_facts,
    reservation_state,
    stripe_event,
    stripe_message,
)

pytestmark = pytest.mark.integration

Book = Callable[..., Any]


def _sid() -> str:
    return f"cs_test_{uuid.uuid4().hex}"


async def test_created_then_paid(container: Container, book: Book, reservation_db: str) -> None:
    row = await book()
    sid = _sid()
    await container.batch_handler([checkout_message(checkout_fact(sid, [row]))])
    assert reservation_state(reservation_db, row.id)["status"] == "processing"
    paid = stripe_event(s.CHECKOUT_SESSION_COMPLETED, sid, [row], payment_intent="pi_paid1")
    await container.batch_handler([stripe_message(paid)])
    await container.batch_handler([stripe_message(paid)])  # a duplicate delivery
    state = reservation_state(reservation_db, row.id)
    assert state["status"] == "succeeded"
    assert state["paid_session_id"] == sid
    assert state["payment_intent_id"] == "pi_paid1"
    assert state["paid_amount"] == row.amount
    assert state["paid_currency"] == "eur"
    assert state["paid_at"] is not None
    [fact] = outbox_facts(reservation_db)
    assert isinstance(fact, ReservationConfirmedV1)
    assert fact.user_email == "ada@example.com"
    assert fact.reference == row.reference
    assert fact.amount_paid == row.amount
    assert fact.session_id == sid


async def test_delayed_payment_succeeds(
    container: Container, book: Book, reservation_db: str
) -> None:
    row = await book()
    sid = _sid()
    await container.batch_handler([checkout_message(checkout_fact(sid, [row]))])
    unpaid = stripe_event(s.CHECKOUT_SESSION_COMPLETED, sid, [row], payment_status="unpaid")
    await container.batch_handler([stripe_message(unpaid)])
    assert reservation_state(reservation_db, row.id)["status"] == "processing"
    ok = stripe_event(s.CHECKOUT_SESSION_ASYNC_PAYMENT_SUCCEEDED, sid, [row])
    await container.batch_handler([stripe_message(ok)])
    assert reservation_state(reservation_db, row.id)["status"] == "succeeded"
    assert [type(f) for f in outbox_facts(reservation_db)] == [ReservationConfirmedV1]


async def test_failed_then_retry_with_a_new_session(
    container: Container, book: Book, reservation_db: str
) -> None:
    row = await book()
    first, second = _sid(), _sid()
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    await container.batch_handler([checkout_message(checkout_fact(first, [row], occurred_at=t0))])
    unpaid = stripe_event(
        s.CHECKOUT_SESSION_COMPLETED,
        first,
        [row],
        payment_status="unpaid",
        created=int(t0.timestamp()),
    )
    await container.batch_handler([stripe_message(unpaid)])
    failed = stripe_event(
        s.CHECKOUT_SESSION_ASYNC_PAYMENT_FAILED,
        first,
        [row],
        payment_status="unpaid",
        created=int(t0.timestamp()),
    )
    await container.batch_handler([stripe_message(failed)])
    assert reservation_state(reservation_db, row.id)["status"] == "failed"
    await container.batch_handler([checkout_message(checkout_fact(second, [row]))])
    assert reservation_state(reservation_db, row.id)["status"] == "processing"
    await container.batch_handler(
        [stripe_message(stripe_event(s.CHECKOUT_SESSION_COMPLETED, second, [row]))]
    )
    # The first session's late expiry changes nothing.
    late = stripe_event(s.CHECKOUT_SESSION_EXPIRED, first, [row], created=int(t0.timestamp()))
    await container.batch_handler([stripe_message(late)])
    state = reservation_state(reservation_db, row.id)
    assert state["status"] == "succeeded"
    assert state["paid_session_id"] == second
    kinds = [type(f) for f in outbox_facts(reservation_db)]
    assert kinds == [ReservationPaymentFailedV1, ReservationConfirmedV1]


async def test_old_session_expiry_does_not_override_a_newer_open_session(
    container: Container, book: Book, reservation_db: str
) -> None:
    row = await book()
    old, new = _sid(), _sid()
    t_old = datetime.now(UTC) - timedelta(minutes=10)
    await container.batch_handler([checkout_message(checkout_fact(old, [row], occurred_at=t_old))])
    await container.batch_handler([checkout_message(checkout_fact(new, [row]))])
    expired = stripe_event(s.CHECKOUT_SESSION_EXPIRED, old, [row], created=int(t_old.timestamp()))
    await container.batch_handler([stripe_message(expired)])
    state = reservation_state(reservation_db, row.id)
    assert state["status"] == "processing"
    assert state["current_session_id"] == new


async def test_session_expired_within_and_after_the_hold(
    container: Container, book: Book, reservation_db: str
) -> None:
    within, after = await book(), await book()
    for row in (within, after):
        sid = _sid()
        await container.batch_handler([checkout_message(checkout_fact(sid, [row]))])
        if row is after:
            container.payments.clock = lambda: datetime.now(UTC) + timedelta(hours=1)
        await container.batch_handler(
            [stripe_message(stripe_event(s.CHECKOUT_SESSION_EXPIRED, sid, [row]))]
        )
    assert reservation_state(reservation_db, within.id)["status"] == "pending"
    assert reservation_state(reservation_db, after.id)["status"] == "expired"
    [fact] = outbox_facts(reservation_db)
    assert isinstance(fact, ReservationExpiredV1)
    assert fact.reservation_id == after.id


async def test_amount_or_currency_mismatch_is_flagged(
    container: Container, book: Book, reservation_db: str
) -> None:
    cheap, foreign = await book(), await book()
    cheap_sid, foreign_sid = _sid(), _sid()
    await container.batch_handler([checkout_message(checkout_fact(cheap_sid, [cheap]))])
    await container.batch_handler([checkout_message(checkout_fact(foreign_sid, [foreign]))])
    await container.batch_handler(
        [
            stripe_message(
                stripe_event(s.CHECKOUT_SESSION_COMPLETED, cheap_sid, [cheap], amount_total=100)
            )
        ]
    )
    await container.batch_handler(
        [
            stripe_message(
                stripe_event(s.CHECKOUT_SESSION_COMPLETED, foreign_sid, [foreign], currency="usd")
            )
        ]
    )
    assert reservation_state(reservation_db, cheap.id)["status"] == "needs_review"
    assert reservation_state(reservation_db, foreign.id)["review_reason"] == "currency_mismatch"
    flagged = outbox_facts(reservation_db)
    assert all(isinstance(f, ReservationFlaggedForReviewV1) for f in flagged)
    first = flagged[0]
    assert (first.reason, first.paid_amount, first.expected_amount) == (
        "amount_mismatch",
        100,
        cheap.amount,
    )


async def test_charge_refunded(container: Container, book: Book, reservation_db: str) -> None:
    row = await book()
    sid = _sid()
    await container.batch_handler([checkout_message(checkout_fact(sid, [row]))])
    paid = stripe_event(s.CHECKOUT_SESSION_COMPLETED, sid, [row], payment_intent="pi_to_refund")
    await container.batch_handler([stripe_message(paid)])
    charge_event = {
        "id": f"evt_{uuid.uuid4().hex[:20]}",
        "type": s.CHARGE_REFUNDED,
        "created": 1,
        "livemode": False,
        "data": {
            "object": {
                "id": "ch_1",
                "object": "charge",
                "amount": row.amount,
                "amount_refunded": row.amount,
                "currency": "eur",
                "refunded": True,
                "payment_intent": "pi_to_refund",
                # Expanded, as the emulator sends it (Stripe lists refunds only when asked).
                "refunds": {
                    "object": "list",
                    "data": [
                        {
                            "id": "re_charge_1",
                            "object": "refund",
                            "amount": row.amount,
                            "currency": "eur",
                            "status": "succeeded",
                            "payment_intent": "pi_to_refund",
                            "charge": "ch_1",
                        }
                    ],
                },
            }
        },
    }
    await container.batch_handler([stripe_message_raw(charge_event)])
    state = reservation_state(reservation_db, row.id)
    assert (state["status"], state["refund_id"]) == ("refunded", "re_charge_1")
    refunded = outbox_facts(reservation_db)[-1]
    assert isinstance(refunded, ReservationRefundedV1)
    assert refunded.reason == "charge_refunded"
    assert (refunded.refund_id, refunded.amount_refunded) == ("re_charge_1", row.amount)


def stripe_message_raw(event: dict[str, Any]) -> Any:
    from backbone.kafka import Message
    from contracts import headers as h
    from contracts.topics import STRIPE_EVENTS

    return Message(
        STRIPE_EVENTS,
        0,
        0,
        b"k",
        json.dumps(event).encode(),
        ((h.STRIPE_EVENT_ID, event["id"].encode()),),
    )


async def test_unknown_event_types_are_acknowledged(
    container: Container, reservation_db: str
) -> None:
    event = {
        "id": "evt_unknown_1",
        "type": "customer.created",
        "created": 1,
        "livemode": False,
        "data": {"object": {"id": "cus_1"}},
    }
    await container.batch_handler([stripe_message_raw(event)])
    import psycopg

    with psycopg.connect(reservation_db) as conn:
        claimed = conn.execute(
            "SELECT count(*) FROM inbox WHERE event_id = 'evt_unknown_1'"
        ).fetchone()
    assert claimed == (1,)
    assert outbox_facts(reservation_db) == []


async def test_sweep_expires_due_holds(
    container: Container, book: Book, reservation_db: str
) -> None:
    due = await book(
        now=datetime.now(UTC) - timedelta(hours=1),
        starts_at=distinct_slot(days=90),
    )
    fresh = await book()
    assert await expire_due_holds(lambda: container.uow(None), datetime.now(UTC)) >= 1
    assert reservation_state(reservation_db, due.id)["status"] == "expired"
    assert reservation_state(reservation_db, fresh.id)["status"] == "pending"
    assert [f.reservation_id for f in outbox_facts(reservation_db)] == [due.id]


async def test_late_payment_slot_taken_is_refunded_through_stripe(
    container: Container,
    book: Book,
    reservation_db: str,
    stripe_client: stripe.StripeClient,
    emulator_url: str,
) -> None:
    start = distinct_slot(days=200)
    late = await book(starts_at=start, now=datetime.now(UTC) - timedelta(hours=2))
    await expire_due_holds(lambda: container.uow(None), datetime.now(UTC))
    taker = await book(starts_at=start, user_id="user_2", email="bo@example.com")
    event = emulator_paid_event(stripe_client, emulator_url, late)
    await container.batch_handler(
        [checkout_message(checkout_fact(event["data"]["object"]["id"], [late]))]
    )
    await container.batch_handler([stripe_message(event)])
    await container.batch_handler([stripe_message(event)])
    # The worker decided; the refund executor carries it out once that committed.
    assert await container.refunds.run_once() == 1
    state = reservation_state(reservation_db, late.id)
    assert state["status"] == "refunded"
    assert state["refund_id"].startswith("re_")
    assert reservation_state(reservation_db, taker.id)["status"] == "pending"
    refunds = [f for f in outbox_facts(reservation_db) if isinstance(f, ReservationRefundedV1)]
    assert len(refunds) == 1
    assert refunds[0].reason == "late_payment_slot_taken"
    assert refunds[0].amount_refunded == late.amount
    pi = event["data"]["object"]["payment_intent"]
    charge = stripe_client.v1.payment_intents.retrieve(pi).latest_charge
    assert stripe_client.v1.charges.retrieve(str(charge)).amount_refunded == late.amount


async def test_late_payment_slot_still_free_is_confirmed(
    container: Container,
    book: Book,
    reservation_db: str,
    stripe_client: stripe.StripeClient,
    emulator_url: str,
) -> None:
    start = distinct_slot(days=300)
    late = await book(starts_at=start, now=datetime.now(UTC) - timedelta(hours=2))
    await expire_due_holds(lambda: container.uow(None), datetime.now(UTC))
    assert reservation_state(reservation_db, late.id)["status"] == "expired"
    event = emulator_paid_event(stripe_client, emulator_url, late)
    await container.batch_handler(
        [checkout_message(checkout_fact(event["data"]["object"]["id"], [late]))]
    )
    await container.batch_handler([stripe_message(event)])
    assert reservation_state(reservation_db, late.id)["status"] == "succeeded"
    assert isinstance(outbox_facts(reservation_db)[-1], ReservationConfirmedV1)
