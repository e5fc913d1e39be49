"""Disputes and card declines through the worker's handler, against the real database."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from contracts import stripe as s
from contracts.reservation import PaymentDisputeClosedV1, PaymentDisputedV1
from reservation.adapters.metrics import FUNNEL
from reservation.adapters.money_metrics import DECLINES, DISPUTES
from reservation.bootstrap import Container

from ..conftest import (
    checkout_fact,
    checkout_message,
    outbox_facts,
    reservation_state,
    stripe_event,
    stripe_message,
)
from .test_orders import _event, _fact, _order

pytestmark = pytest.mark.integration

Book = Callable[..., Any]
EXAMPLES = Path(__file__).resolve().parents[4] / "libs" / "contracts" / "examples" / "stripe.events"


def dispute_event(
    event_type: str, payment_intent: str, *, status: str, amount: int, dispute_id: str
) -> dict[str, Any]:
    """A charge.dispute.* event shaped as Stripe's."""
    now = int(time.time())
    return {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "api_version": "2024-06-20",
        "created": now,
        "livemode": False,
        "data": {
            "object": {
                "id": dispute_id,
                "object": "dispute",
                "amount": amount,
                "currency": "eur",
                "charge": f"ch_{payment_intent[3:]}",
                "payment_intent": payment_intent,
                "reason": "fraudulent",
                "status": status,
                "evidence_details": {"due_by": now + 7 * 86400},
                "created": now,
                "metadata": {},
            }
        },
    }


async def paid(container: Container, row: Any) -> str:
    """Pay `row` through a session; its payment intent."""
    sid = f"cs_test_{uuid.uuid4().hex}"
    pi = f"pi_{uuid.uuid4().hex[:20]}"
    await container.batch_handler([checkout_message(checkout_fact(sid, [row]))])
    await container.batch_handler(
        [stripe_message(stripe_event(s.CHECKOUT_SESSION_COMPLETED, sid, [row], payment_intent=pi))]
    )
    return pi


def _disputes(url: str) -> list[Any]:
    return [
        f for f in outbox_facts(url) if isinstance(f, PaymentDisputedV1 | PaymentDisputeClosedV1)
    ]


async def test_a_dispute_marks_the_booking_and_a_won_one_restores_it(
    container: Container, book: Book, reservation_db: str
) -> None:
    row = await book()
    pi = await paid(container, row)
    du = f"du_{uuid.uuid4().hex[:20]}"
    opened_before = DISPUTES.labels("opened")._value.get()
    created = dispute_event(
        s.CHARGE_DISPUTE_CREATED, pi, status="needs_response", amount=row.amount, dispute_id=du
    )
    await container.batch_handler([stripe_message(created)])
    await container.batch_handler([stripe_message(created)])  # a duplicate delivery
    state = reservation_state(reservation_db, row.id)
    assert (state["status"], state["dispute_id"]) == ("disputed", du)
    [opened] = _disputes(reservation_db)
    assert isinstance(opened, PaymentDisputedV1)
    assert (opened.reservation_ids, opened.amount, opened.user_email) == (
        [row.id],
        row.amount,
        row.user_email,
    )
    assert opened.evidence_due_by is not None
    assert DISPUTES.labels("opened")._value.get() == opened_before + 1

    won = dispute_event(s.CHARGE_DISPUTE_CLOSED, pi, status="won", amount=row.amount, dispute_id=du)
    await container.batch_handler([stripe_message(won)])
    assert reservation_state(reservation_db, row.id)["status"] == "succeeded"
    closed = _disputes(reservation_db)[-1]
    assert isinstance(closed, PaymentDisputeClosedV1)
    assert closed.outcome == "won"
    # A `created` replayed after the close changes nothing.
    await container.batch_handler(
        [stripe_message({**created, "id": f"evt_{uuid.uuid4().hex[:24]}"})]
    )
    assert reservation_state(reservation_db, row.id)["status"] == "succeeded"
    assert len(_disputes(reservation_db)) == 2


async def test_a_lost_dispute_frees_the_slot_even_when_closed_comes_first(
    container: Container, book: Book, reservation_db: str
) -> None:
    row = await book()
    pi = await paid(container, row)
    du = f"du_{uuid.uuid4().hex[:20]}"
    events = [
        dispute_event(s.CHARGE_DISPUTE_CLOSED, pi, status="lost", amount=row.amount, dispute_id=du),
        dispute_event(
            s.CHARGE_DISPUTE_CREATED, pi, status="needs_response", amount=row.amount, dispute_id=du
        ),
    ]
    for event in events:
        await container.batch_handler([stripe_message(event)])
    assert reservation_state(reservation_db, row.id)["status"] == "dispute_lost"
    [closed] = _disputes(reservation_db)
    assert isinstance(closed, PaymentDisputeClosedV1)
    assert closed.outcome == "lost"
    # The slot is free: another user books it.
    again = await book(user_id="user_2", starts_at=row.starts_at)
    assert again.starts_at == row.starts_at


async def test_a_disputed_beats_order_is_marked_and_its_outcome_recorded(
    container: Container, reservation_db: str
) -> None:
    sid = f"cs_test_{uuid.uuid4().hex}"
    await container.batch_handler([_fact(sid)])
    await container.batch_handler([_event(s.CHECKOUT_SESSION_COMPLETED, sid)])
    order = _order(reservation_db, sid)
    assert order["status"] == "confirmed"
    pi, du = order["payment_intent_id"], f"du_{uuid.uuid4().hex[:20]}"
    await container.batch_handler(
        [
            stripe_message(
                dispute_event(
                    s.CHARGE_DISPUTE_CREATED, pi, status="needs_response", amount=10, dispute_id=du
                )
            )
        ]
    )
    assert _order(reservation_db, sid)["status"] == "disputed"
    [opened] = _disputes(reservation_db)
    assert opened.order_id == sid
    await container.batch_handler(
        [
            stripe_message(
                dispute_event(s.CHARGE_DISPUTE_CLOSED, pi, status="lost", amount=10, dispute_id=du)
            )
        ]
    )
    assert _order(reservation_db, sid)["status"] == "dispute_lost"


async def test_card_declines_are_counted_once_by_decline_code(
    container: Container, book: Book, reservation_db: str
) -> None:
    row = await book()
    sid = f"cs_test_{uuid.uuid4().hex}"
    await container.batch_handler([checkout_message(checkout_fact(sid, [row]))])
    declined = json.loads((EXAMPLES / "payment_intent_payment_failed.json").read_text())
    declined["id"] = f"evt_{uuid.uuid4().hex[:24]}"
    funnel = FUNNEL.labels("declined")._value.get()
    code = DECLINES.labels("insufficient_funds")._value.get()
    await container.batch_handler([stripe_message(declined)])
    await container.batch_handler([stripe_message(declined)])  # a duplicate delivery counts once
    assert FUNNEL.labels("declined")._value.get() == funnel + 1
    assert DECLINES.labels("insufficient_funds")._value.get() == code + 1
    # The page stays open for another try: the reservation waits.
    assert reservation_state(reservation_db, row.id)["status"] == "processing"
    with psycopg.connect(reservation_db) as conn:
        claimed = conn.execute(
            "SELECT count(*) FROM inbox WHERE event_id = %s", (declined["id"],)
        ).fetchone()
    assert claimed == (1,)
