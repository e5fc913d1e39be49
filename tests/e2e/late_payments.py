"""Late payments for the outage scenarios: a payer whose hold ran out and whose slot another
customer took pays on the still-open page, so the worker decides a refund that Stripe must carry
out; and the checks that each such payment was refunded exactly once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import psycopg

from contracts.reservation import ReservationRefundedV1
from devstack.stack import DEV_STRIPE_API_KEY

from .harness import Harness, User
from .stream import Payment, Stream


@dataclass
class LatePayer:
    """A payer with an open Stripe page for a reservation that expired, its slot taken."""

    payment: Payment
    newcomer: User
    newcomer_reservation_id: str


async def late_payers(h: Harness, count: int) -> list[LatePayer]:
    """`count` payers, each one payment away from a refund (the page is paid by the caller)."""
    stream = Stream(h)
    payments = [Payment(h.user(f"late{i}")) for i in range(count)]
    for payment in payments:
        await stream.prepare(payment)
        await h.wait_status(payment.user, payment.reservation_id, "processing", timeout=60)
    # Holds last 30 minutes on this stack, too long to wait out: time is moved on in the database
    # instead, to where a newer page of the reservation expired within the hold (pending again,
    # the old page still open) and the hold then ran out. The worker's own sweep expires them.
    url = h.stack.config.databases["reservation"]
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(
            "UPDATE reservations SET status = 'pending', hold_expires_at = now() - interval '1s'"
            " WHERE id = ANY(%s)",
            ([p.reservation_id for p in payments],),
        )
    payers = []
    for payment in payments:
        await h.wait_status(payment.user, payment.reservation_id, "expired", timeout=90)
        newcomer = h.user("newcomer")
        taken = await h.book_at(newcomer, payment.starts_at)
        assert taken.status_code == 201, taken.text
        payers.append(LatePayer(payment, newcomer, taken.json()["id"]))
    return payers


async def refund_requests(h: Harness, payers: list[LatePayer]) -> dict[str, tuple[str, int]]:
    """The worker's refund decision for each payer that has one: (status, attempts so far)."""
    url = h.stack.config.databases["reservation"]
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cursor = await conn.execute(
            "SELECT reservation_id, status, attempts FROM refunds"
            " WHERE origin = 'ours' AND reservation_id = ANY(%s)",
            ([p.payment.reservation_id for p in payers],),
        )
        rows = await cursor.fetchall()
    return {str(r[0]): (str(r[1]), int(r[2])) for r in rows}


async def stripe_refunds(h: Harness, payment_intent_id: str) -> list[str]:
    """The ids of every refund Stripe holds for this payment (read with the fault cleared)."""
    response = await h.http.get(
        h.url("stripe-emulator", "/v1/refunds"),
        params={"payment_intent": payment_intent_id, "limit": 100},
        headers={"Authorization": f"Bearer {DEV_STRIPE_API_KEY}"},
    )
    assert response.status_code == 200, response.text
    return [str(r["id"]) for r in response.json()["data"]]


async def assert_refunded_once(h: Harness, payers: list[LatePayer]) -> None:
    """Each late payment refunded: `re_` id on the reservation and in its one refunded fact,
    exactly one refund at Stripe, and the slot still the newcomer's."""
    for payer in payers:
        p = payer.payment
        done = await h.wait_status(p.user, p.reservation_id, "refunded", timeout=240)
        assert str(done["refund_id"]).startswith("re_"), done
        facts = [
            f
            for f in await h.facts()
            if isinstance(f, ReservationRefundedV1) and f.reservation_id == p.reservation_id
        ]
        assert [f.refund_id for f in facts] == [done["refund_id"]], facts
        intent = (await h.stripe_session(p.session_id))["payment_intent"]
        intent_id = intent if isinstance(intent, str) else intent["id"]
        assert await stripe_refunds(h, intent_id) == [done["refund_id"]], "refunded twice"
        holder = await h.reservation(payer.newcomer, payer.newcomer_reservation_id)
        assert holder["status"] == "pending", holder
        taken = await h.book_at(h.user("intruder"), p.starts_at)
        assert taken.status_code == 409, f"slot of {p.reservation_id}: {taken.text}"
    by_reservation = Counter(
        f.reservation_id for f in await h.facts() if isinstance(f, ReservationRefundedV1)
    )
    assert all(by_reservation[p.payment.reservation_id] == 1 for p in payers), by_reservation
