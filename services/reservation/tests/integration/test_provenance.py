"""A payment counts only against what checkout created: forged or unknown sessions never confirm.

Stripe's events and checkout's facts travel on different topics, so both orders are exercised:
the fact first (the usual case), and Stripe's event first (the payment waits, processing, and is
settled when the fact arrives). A session checkout never created is flagged by the sweep.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts import stripe as s
from contracts.reservation import ReservationConfirmedV1, ReservationFlaggedForReviewV1
from reservation.bootstrap import Container
from reservation.service_layer.provenance import flag_overdue

from ..conftest import (
    checkout_fact,
    checkout_message,
    outbox_facts,
    reservation_state,
    stripe_event,
    stripe_message,
)

pytestmark = pytest.mark.integration

Book = Callable[..., Any]


def _sid() -> str:
    return f"cs_test_{uuid.uuid4().hex}"


async def _sweep(container: Container, *, after_s: float) -> int:
    now = datetime.now(UTC) + timedelta(seconds=after_s)
    return await flag_overdue(lambda: container.uow(None), container.payments.apply, now, 600)


async def test_a_forged_session_never_confirms_and_is_flagged_after_the_grace(
    container: Container, book: Book, reservation_db: str
) -> None:
    row = await book()
    # Signed with a leaked secret: our price, our currency, our metadata; no checkout behind it.
    forged = stripe_event(s.CHECKOUT_SESSION_COMPLETED, _sid(), [row])
    await container.batch_handler([stripe_message(forged)])
    assert reservation_state(reservation_db, row.id)["status"] == "processing"
    assert outbox_facts(reservation_db) == []

    assert await _sweep(container, after_s=0) == 0  # within the grace: still waiting
    assert await _sweep(container, after_s=601) == 1
    assert await _sweep(container, after_s=602) == 0  # taken once
    state = reservation_state(reservation_db, row.id)
    assert (state["status"], state["review_reason"]) == ("needs_review", "unknown_session")
    [flagged] = outbox_facts(reservation_db)
    assert isinstance(flagged, ReservationFlaggedForReviewV1)


async def test_a_real_session_replayed_for_other_reservations_is_flagged(
    container: Container, book: Book, reservation_db: str
) -> None:
    mine, target = await book(), await book(user_id="user_9", email="x@example.com")
    sid = _sid()
    await container.batch_handler([checkout_message(checkout_fact(sid, [mine]))])
    # The attacker's own session id, re-signed to name another reservation at its price.
    forged = stripe_event(s.CHECKOUT_SESSION_COMPLETED, sid, [target])
    await container.batch_handler([stripe_message(forged)])
    state = reservation_state(reservation_db, target.id)
    assert (state["status"], state["review_reason"]) == ("needs_review", "reservations_mismatch")
    assert not any(isinstance(f, ReservationConfirmedV1) for f in outbox_facts(reservation_db))


async def test_stripe_before_the_checkout_fact_waits_then_confirms_once(
    container: Container, book: Book, reservation_db: str
) -> None:
    row = await book()
    sid = _sid()
    paid = stripe_message(stripe_event(s.CHECKOUT_SESSION_COMPLETED, sid, [row]))
    await container.batch_handler([paid])
    assert reservation_state(reservation_db, row.id)["status"] == "processing"
    fact = checkout_message(checkout_fact(sid, [row]))
    for message in (fact, paid, fact):  # the fact settles it; redeliveries are no-ops
        await container.batch_handler([message])
    assert reservation_state(reservation_db, row.id)["status"] == "succeeded"
    assert [type(f) for f in outbox_facts(reservation_db)] == [ReservationConfirmedV1]
    assert await _sweep(container, after_s=601) == 0  # nothing left waiting
