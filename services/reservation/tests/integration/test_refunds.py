"""Refunds against the real database and the Stripe emulator: decided in the worker's transaction,
carried out after it by the refund executor through Stripe outages, refused ones recorded; refunds
Stripe tells of applied whenever the payment settles; partial, full and beats-order refunds."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
import stripe
from psycopg.rows import dict_row

from contracts import stripe as s
from contracts.reservation import (
    OrderRefundedV1,
    ReservationConfirmedV1,
    ReservationRefundedV1,
)
from devstack.testing import distinct_slot, eventually
from reservation.adapters.metrics import FUNNEL, REFUNDS
from reservation.adapters.stripe_gateway import StripeGateway
from reservation.bootstrap import Container
from reservation.service_layer.sweep import expire_due_holds

from ..conftest import (
    emulator_paid_event,
    outbox_facts,
    refund_event,
    reservation_state,
    stripe_event,
    stripe_message,
    told_by_checkout,
)

pytestmark = pytest.mark.integration

Book = Callable[..., Any]


def _sid() -> str:
    return f"cs_test_{uuid.uuid4().hex}"


def _refunds(database_url: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return [dict(r) for r in conn.execute("SELECT * FROM refunds ORDER BY created_at, key")]


def _refund_facts(database_url: str) -> list[ReservationRefundedV1]:
    return [f for f in outbox_facts(database_url) if isinstance(f, ReservationRefundedV1)]


def _count(outcome: str) -> float:
    return float(REFUNDS.labels(outcome)._value.get())


@pytest.fixture
async def faults(emulator_url: str) -> AsyncIterator[Callable[..., Any]]:
    """`await faults(api_status=503, count=50)`: the next API calls fail; cleared after."""
    async with httpx.AsyncClient(base_url=emulator_url) as client:

        async def set_faults(**body: Any) -> None:
            (await client.post("/_emulator/faults", json=body)).raise_for_status()

        yield set_faults
        await set_faults(api_status=None, count=0)


@pytest.fixture
def fast_retries(container: Container) -> Container:
    """The executor retries at once in tests (its pacing is not what they prove)."""
    container.refunds.backoff_initial_s = 0.0
    container.refunds.backoff_max_s = 0.0
    return container


async def _late_payment(
    container: Container, book: Book, stripe_client: stripe.StripeClient, emulator_url: str
) -> tuple[Any, dict[str, Any]]:
    """A reservation whose hold lapsed and whose slot someone else took, then paid: its event."""
    start = distinct_slot(days=400)
    late = await book(starts_at=start, now=datetime.now(UTC) - timedelta(hours=2))
    await expire_due_holds(lambda: container.uow(None), datetime.now(UTC))
    await book(starts_at=start, user_id="user_2", email="bo@example.com")
    event = emulator_paid_event(stripe_client, emulator_url, late)
    await told_by_checkout(container, event, [late])
    return late, event


async def test_a_stripe_outage_never_reaches_the_worker_and_the_refund_waits_it_out(
    fast_retries: Container,
    book: Book,
    reservation_db: str,
    stripe_client: stripe.StripeClient,
    emulator_url: str,
    faults: Callable[..., Any],
    api_url: str,
    token: Callable[..., str],
) -> None:
    container = fast_retries
    late, event = await _late_payment(container, book, stripe_client, emulator_url)
    await faults(api_status=503, count=1000)
    # The worker's transaction makes no Stripe call: it commits the decision while Stripe is down.
    await container.batch_handler([stripe_message(event)])
    # Decided, not done: `refunded` waits for Stripe's refund id.
    assert reservation_state(reservation_db, late.id)["status"] == "expired"
    [requested] = _refunds(reservation_db)
    assert (requested["status"], requested["amount"]) == ("requested", late.amount)
    assert requested["payment_intent_id"] == event["data"]["object"]["payment_intent"]
    assert _refund_facts(reservation_db) == []
    retried = _count("retried")
    for _ in range(3):
        assert await container.refunds.run_once() == 1
    [waiting] = _refunds(reservation_db)
    assert (waiting["status"], waiting["attempts"]) == ("requested", 3)
    assert "503" in waiting["last_error"]
    assert _count("retried") == retried + 3
    assert _refund_facts(reservation_db) == []

    funnel = FUNNEL.labels("late_payment_refunded")._value.get()
    await faults(api_status=None, count=0)
    assert await container.refunds.run_once() == 1
    assert FUNNEL.labels("late_payment_refunded")._value.get() == funnel + 1
    [done] = _refunds(reservation_db)
    # Succeeded at once on this emulator; `pending` (then refund.updated) counts the same.
    assert done["status"] in ("succeeded", "pending")
    assert done["stripe_refund_id"].startswith("re_")
    state = reservation_state(reservation_db, late.id)
    assert (state["status"], state["refund_id"]) == ("refunded", done["stripe_refund_id"])
    assert state["refunded_amount"] == late.amount
    [fact] = _refund_facts(reservation_db)
    assert (fact.refund_id, fact.amount_refunded) == (done["stripe_refund_id"], late.amount)
    assert fact.reason == "late_payment_slot_taken"
    async with httpx.AsyncClient(base_url=api_url) as http:
        shown = await http.get(
            f"/api/reservations/{late.id}", headers={"Authorization": f"Bearer {token()}"}
        )
    assert shown.status_code == 200, shown.text
    assert (shown.json()["refund_id"], shown.json()["refunded_amount"]) == (
        done["stripe_refund_id"],
        late.amount,
    )
    pi = event["data"]["object"]["payment_intent"]
    charge = stripe_client.v1.payment_intents.retrieve(pi).latest_charge
    assert stripe_client.v1.charges.retrieve(str(charge)).amount_refunded == late.amount
    # Stripe's own news of our refund (refund.created, with our key) changes nothing more.
    [created] = [
        e
        for e in stripe_client.v1.events.list(params={"type": s.REFUND_CREATED, "limit": 100}).data
        if e.data.object.id == done["stripe_refund_id"]
    ]
    await container.batch_handler([stripe_message(created.to_dict())])
    assert len(_refund_facts(reservation_db)) == 1
    assert await container.refunds.run_once() == 0


async def test_a_lost_answer_is_retried_under_the_same_key_and_refunds_once(
    fast_retries: Container,
    book: Book,
    reservation_db: str,
    stripe_client: stripe.StripeClient,
    emulator_url: str,
    faults: Callable[..., Any],
) -> None:
    container = fast_retries
    # The executor's own bound on a Stripe call, short enough for a test to outlast it.
    settings = container.settings.stripe.model_copy(update={"request_timeout_s": 0.5})
    container.refunds.gateway = StripeGateway(settings)
    late, event = await _late_payment(container, book, stripe_client, emulator_url)
    await container.batch_handler([stripe_message(event)])
    # Stripe holds its answer past our timeout (and carries the request out meanwhile).
    await faults(api_status=None, count=1, delay_seconds=2)
    assert await container.refunds.run_once() == 1
    [waiting] = _refunds(reservation_db)
    assert waiting["status"] == "requested"
    assert (
        "timed out" in waiting["last_error"].lower() or "timeout" in waiting["last_error"].lower()
    )

    async def refunded() -> bool:
        await container.refunds.run_once()
        return reservation_state(reservation_db, late.id)["status"] == "refunded"

    await eventually(refunded, timeout=30, interval=0.5, what="the refund after the lost answer")
    pi = event["data"]["object"]["payment_intent"]
    charge = stripe_client.v1.payment_intents.retrieve(pi).latest_charge
    assert stripe_client.v1.charges.retrieve(str(charge)).amount_refunded == late.amount
    assert len(_refund_facts(reservation_db)) == 1


async def test_a_refund_stripe_refuses_is_recorded_counted_and_never_retried_blindly(
    container: Container,
    book: Book,
    reservation_db: str,
    stripe_client: stripe.StripeClient,
    emulator_url: str,
) -> None:
    late, event = await _late_payment(container, book, stripe_client, emulator_url)
    await container.batch_handler([stripe_message(event)])
    # Support refunded the charge in the Dashboard before our executor got to it.
    pi = event["data"]["object"]["payment_intent"]
    stripe_client.v1.refunds.create(params={"payment_intent": pi})
    refused = _count("refused")
    assert await container.refunds.run_once() == 1
    [row] = _refunds(reservation_db)
    assert row["status"] == "refused"
    assert "charge_already_refunded" in row["last_error"]
    assert _count("refused") == refused + 1
    assert _refund_facts(reservation_db) == []
    # Nothing claims money we did not return: no refund id, not `refunded`.
    state = reservation_state(reservation_db, late.id)
    assert (state["status"], state["refund_id"]) == ("expired", None)
    assert await container.refunds.run_once() == 0


async def test_a_duplicate_payment_is_refunded_and_the_booking_stands(
    container: Container,
    book: Book,
    reservation_db: str,
    stripe_client: stripe.StripeClient,
    emulator_url: str,
) -> None:
    row = await book()
    first = emulator_paid_event(stripe_client, emulator_url, row)
    second = emulator_paid_event(stripe_client, emulator_url, row)
    await told_by_checkout(container, first, [row])
    await told_by_checkout(container, second, [row])
    await container.batch_handler([stripe_message(first)])
    await container.batch_handler([stripe_message(second)])
    assert await container.refunds.run_once() == 1
    state = reservation_state(reservation_db, row.id)
    assert (state["status"], state["refund_id"]) == ("succeeded", None)
    assert state["paid_session_id"] == first["data"]["object"]["id"]
    [fact] = _refund_facts(reservation_db)
    assert fact.reason == "duplicate_payment"
    assert fact.refund_id.startswith("re_")
    assert fact.amount_refunded == row.amount
    assert fact.payment_intent_id == second["data"]["object"]["payment_intent"]


@pytest.mark.parametrize("refund_first", [True, False], ids=["refund_first", "payment_first"])
async def test_a_refund_is_applied_whichever_of_it_and_the_payment_comes_first(
    container: Container, book: Book, reservation_db: str, refund_first: bool
) -> None:
    row = await book()
    sid = _sid()
    pi = f"pi_{uuid.uuid4().hex[:20]}"
    await told_by_checkout(container, sid, [row])
    paid = stripe_message(stripe_event(s.CHECKOUT_SESSION_COMPLETED, sid, [row], payment_intent=pi))
    refund = refund_event(s.REFUND_CREATED, pi, row.amount, refund_id=f"re_{sid[-16:]}")
    for message in (refund, paid) if refund_first else (paid, refund):
        await container.batch_handler([message])
        await container.batch_handler([message])  # and twice
    state = reservation_state(reservation_db, row.id)
    assert (state["status"], state["refund_id"]) == ("refunded", f"re_{sid[-16:]}")
    assert state["refunded_amount"] == row.amount
    kinds = [type(f) for f in outbox_facts(reservation_db)]
    assert kinds == [ReservationConfirmedV1, ReservationRefundedV1]
    [fact] = _refund_facts(reservation_db)
    assert (fact.refund_id, fact.amount_refunded, fact.partial) == (
        f"re_{sid[-16:]}",
        row.amount,
        False,
    )


async def test_a_charge_refunded_naming_no_refund_is_looked_up_after_the_commit(
    container: Container,
    book: Book,
    reservation_db: str,
    stripe_client: stripe.StripeClient,
    emulator_url: str,
) -> None:
    row = await book()
    paid = emulator_paid_event(stripe_client, emulator_url, row)
    await told_by_checkout(container, paid, [row])
    await container.batch_handler([stripe_message(paid)])
    pi = paid["data"]["object"]["payment_intent"]
    made = stripe_client.v1.refunds.create(params={"payment_intent": pi})  # by support
    [event] = [
        e.to_dict()
        for e in stripe_client.v1.events.list(params={"type": s.CHARGE_REFUNDED, "limit": 100}).data
        if e.data.object.payment_intent == pi
    ]
    # As Stripe sends it by default: the charge's refunds are not listed, only the amount.
    event["data"]["object"]["refunds"]["data"] = []
    await container.batch_handler([stripe_message(event)])
    assert reservation_state(reservation_db, row.id)["status"] == "succeeded"
    assert [r["origin"] for r in _refunds(reservation_db)] == ["lookup"]
    assert await container.refunds.run_once() == 1
    state = reservation_state(reservation_db, row.id)
    assert (state["status"], state["refund_id"]) == ("refunded", made.id)
    [fact] = _refund_facts(reservation_db)
    assert (fact.refund_id, fact.amount_refunded, fact.reason) == (
        made.id,
        row.amount,
        "charge_refunded",
    )
    # Another charge.refunded of the same amount (a new event): everything is known now.
    await container.batch_handler([stripe_message({**event, "id": f"evt_{uuid.uuid4().hex[:24]}"})])
    assert await container.refunds.run_once() == 0
    assert len(_refunds(reservation_db)) == 2  # the look-up, and the refund it found
    assert len(_refund_facts(reservation_db)) == 1


async def test_a_refund_and_its_payment_applied_at_the_same_moment_still_meet(
    container: Container, book: Book, reservation_db: str
) -> None:
    # Different partitions, different workers: the two transactions overlap. The payment's lock
    # makes one see the other's row, whichever commits first.
    rows = [await book() for _ in range(6)]
    pairs = []
    for row in rows:
        pi = f"pi_{uuid.uuid4().hex[:20]}"
        sid = _sid()
        await told_by_checkout(container, sid, [row])
        paid = stripe_event(s.CHECKOUT_SESSION_COMPLETED, sid, [row], payment_intent=pi)
        pairs.append((stripe_message(paid), refund_event(s.REFUND_CREATED, pi, row.amount)))
    await asyncio.gather(*(container.batch_handler([m]) for pair in pairs for m in pair))
    assert [reservation_state(reservation_db, r.id)["status"] for r in rows] == ["refunded"] * 6


async def test_partial_refunds_keep_the_booking_until_the_whole_payment_went_back(
    container: Container, book: Book, reservation_db: str
) -> None:
    row = await book()
    pi = f"pi_{uuid.uuid4().hex[:20]}"
    sid = _sid()
    await told_by_checkout(container, sid, [row])
    await container.batch_handler(
        [stripe_message(stripe_event(s.CHECKOUT_SESSION_COMPLETED, sid, [row], payment_intent=pi))]
    )
    part = row.amount // 3
    # A pending refund is money on its way back; its later `succeeded` changes nothing more.
    await container.batch_handler(
        [refund_event(s.REFUND_CREATED, pi, part, refund_id="re_p1", status="pending")]
    )
    await container.batch_handler(
        [refund_event(s.CHARGE_REFUND_UPDATED, pi, part, refund_id="re_p1")]
    )
    await container.batch_handler([refund_event(s.REFUND_UPDATED, pi, part, refund_id="re_p1")])
    state = reservation_state(reservation_db, row.id)
    assert (state["status"], state["refunded_amount"]) == ("succeeded", part)
    [partial] = _refund_facts(reservation_db)
    assert (partial.partial, partial.amount_refunded, partial.refund_id) == (True, part, "re_p1")
    assert partial.refunded_total == part

    # A refund that fails is recorded and counted, and moves nothing.
    failed = _count("failed")
    await container.batch_handler(
        [refund_event(s.REFUND_CREATED, pi, 1, refund_id="re_f", status="pending")]
    )
    await container.batch_handler(
        [refund_event(s.REFUND_FAILED, pi, 1, refund_id="re_f", status="failed")]
    )
    assert _count("failed") == failed + 1
    assert {r["stripe_refund_id"]: r["status"] for r in _refunds(reservation_db)}[
        "re_f"
    ] == "failed"

    # The failed one does not count: the rest of the payment is what makes it whole.
    await container.batch_handler(
        [refund_event(s.REFUND_CREATED, pi, row.amount - part, refund_id="re_p2")]
    )
    state = reservation_state(reservation_db, row.id)
    assert (state["status"], state["refund_id"]) == ("refunded", "re_p2")
    assert state["refunded_amount"] == row.amount
    facts = _refund_facts(reservation_db)
    assert [(f.partial, f.refund_id) for f in facts] == [
        (True, "re_p1"),
        (True, "re_f"),
        (False, "re_p2"),
    ]


async def test_a_beats_order_refund_marks_the_order_and_tells_the_user(
    container: Container, reservation_db: str
) -> None:
    from .test_orders import CART_TOTAL, _event, _fact, _order

    sid = _sid()
    await container.batch_handler([_fact(sid)])
    await container.batch_handler([_event(s.CHECKOUT_SESSION_COMPLETED, sid)])
    pi = f"pi_{sid[-12:]}"
    await container.batch_handler([refund_event(s.REFUND_CREATED, pi, 1000, refund_id="re_b1")])
    assert (
        _order(reservation_db, sid)["status"],
        _order(reservation_db, sid)["refunded_amount"],
    ) == (
        "confirmed",
        1000,
    )
    await container.batch_handler(
        [refund_event(s.REFUND_CREATED, pi, CART_TOTAL - 1000, refund_id="re_b2")]
    )
    order = _order(reservation_db, sid)
    assert (order["status"], order["refund_id"], order["refunded_amount"]) == (
        "refunded",
        "re_b2",
        CART_TOTAL,
    )
    facts = [f for f in outbox_facts(reservation_db) if isinstance(f, OrderRefundedV1)]
    assert [(f.order_id, f.amount_refunded, f.partial) for f in facts] == [
        (sid, 1000, True),
        (sid, CART_TOTAL - 1000, False),
    ]
