"""Scenario 4: cancel on Stripe's page and retry; a hold running out frees the slot; a payment
arriving after the slot was taken is refunded and the user told.

Holds last one minute on this scenario's stack (the smallest the service accepts) and the sweep
runs every second, so the hold part takes a little over a minute.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from devstack.testing import eventually

from .harness import Harness

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def short_holds(make_stack: Any) -> Harness:
    """A stack whose holds last one minute, swept every second."""
    env = {"RESERVATION_HOLD_MINUTES": "1", "RESERVATION_SWEEP_INTERVAL_S": "1"}
    return make_stack(  # type: ignore[no-any-return]
        "holds", {"reservation-api": env, "reservation-worker": env}
    )


async def test_cancel_on_the_stripe_page_then_retry(shared_stack: Harness) -> None:
    h = shared_stack
    user = h.user("cancel")
    booked = await h.book(user)
    session = await h.create_session(user, [booked["id"]])
    cancelled = await h.page_action(session["url"], "cancel")
    assert cancelled.status_code == 303
    assert cancelled.headers["location"].startswith(h.url("checkout"))
    assert (await h.stripe_session(session["sessionId"]))["status"] == "open"

    retry = await h.create_session(user, [booked["id"]])  # the user comes back and pays
    paid = await h.page_action(retry["url"], "pay")
    assert paid.status_code == 303
    done = await h.wait_status(user, booked["id"], "succeeded")
    assert done["payment"]["stripeSessionId"] == retry["sessionId"]
    await h.assert_one_email_per_fact(user)
    assert len(await h.messages_to(user.email)) == 1


async def test_hold_expiry_frees_the_slot_and_a_late_payment_is_refunded(
    short_holds: Harness,
) -> None:
    h = short_holds
    late, idle, newcomer = h.user("late"), h.user("idle"), h.user("newcomer")
    unpaid = await h.book(idle)
    wanted, extra = await h.book(late, "mixing"), await h.book(late, "mastering")
    # An old tab with a checkout of `wanted` alone, then a newer checkout of both.
    old_tab = await h.create_session(late, [wanted["id"]])
    # Stripe's `created` has whole seconds; a session of the same second is ordered by id.
    old_created = (await h.stripe_session(old_tab["sessionId"]))["created"]

    async def next_second() -> bool:
        return time.time() >= old_created + 1

    await eventually(next_second, timeout=5, interval=0.05, what="the next second")
    # Checkout expires the superseded old tab at Stripe; here Stripe cannot expire it (yet), so
    # the late payment below can still land on it.
    await h.keep_open(old_tab["sessionId"])
    newer = await h.create_session(late, [wanted["id"], extra["id"]])
    await h.wait_status(late, wanted["id"], "processing")

    # The unpaid hold runs out: the sweep frees its slot, and someone else takes it.
    expired = await h.wait_status(idle, unpaid["id"], "expired", timeout=100)
    taken = await h.book_at(newcomer, expired["starts_at"], "recording")
    assert taken.status_code == 201, taken.text

    # The newer checkout expires once the holds are over: both reservations expire too.
    hold_end = datetime.fromisoformat(wanted["hold_expires_at"])

    async def hold_over() -> bool:
        return datetime.now(UTC) > hold_end

    await eventually(hold_over, timeout=100, interval=0.5, what="the end of the hold")
    await h.complete(newer["sessionId"], "expired")
    await h.wait_status(late, wanted["id"], "expired")
    await h.wait_status(late, extra["id"], "expired")
    taken_late = await h.book_at(newcomer, wanted["starts_at"], "mixing")
    assert taken_late.status_code == 201, taken_late.text

    # The late payer pays in the old tab: refunded, told, and nobody is double-booked.
    await h.complete(old_tab["sessionId"], "paid")
    await h.http.delete(h.url("stripe-emulator", "/_emulator/faults"))
    refunded = await h.wait_status(late, wanted["id"], "refunded")
    assert refunded["refund_id"]
    assert (await h.reservation(newcomer, taken_late.json()["id"]))["status"] == "pending"
    await h.assert_one_email_per_fact(late)  # two expired, one refunded
    assert len(await h.messages_to(late.email)) == 3
    await h.assert_one_email_per_fact(idle)  # expired
    assert len(await h.messages_to(idle.email)) == 1
