"""Scenarios 1-3: pay a reservation; mixed cart and beats only; delayed payment methods."""

from __future__ import annotations

import pytest

from contracts.checkout import ReservationCheckoutMetadata
from contracts.reservation import OrderConfirmedV1

from .harness import Harness, fact_id

pytestmark = pytest.mark.e2e

BEATS = {"beat_midnight_tape": 2999, "beat_low_tide": 1999}


async def test_reserve_pay_and_get_exactly_one_confirmation(shared_stack: Harness) -> None:
    h = shared_stack
    user = h.user("alice")
    booked = await h.book(user)
    assert booked["status"] == "pending"

    session = await h.create_session(user, [booked["id"]])
    assert session["url"].startswith(h.url("stripe-emulator"))
    paid = await h.page_action(session["url"], "pay")
    assert paid.status_code == 303, paid.text

    done = await h.wait_status(user, booked["id"], "succeeded")
    assert done["payment"]["stripeSessionId"] == session["sessionId"]
    assert done["payment"]["paidAmount"] == booked["amount"]
    assert done["payment"]["paymentStatus"] == "succeeded"
    mails = await h.wait_messages_to(user.email, 1)
    await h.assert_one_email_per_fact(user)
    assert len(mails) == 1
    assert fact_id(mails[0]) is not None
    assert booked["reference"] in await h.message_text(mails[0]["ID"])


async def test_mixed_cart_pays_reservations_and_beats_with_the_seed_metadata(
    shared_stack: Harness,
) -> None:
    h = shared_stack
    user = h.user("mixed")
    first, second = await h.book(user, "recording"), await h.book(user, "mixing")
    session = await h.create_session(user, [first["id"], second["id"]], list(BEATS))

    stripe = await h.stripe_session(session["sessionId"])
    metadata = ReservationCheckoutMetadata.from_stripe_metadata(stripe["metadata"])
    services_total = first["amount"] + second["amount"]
    assert metadata.checkout_type == "mixed_cart"
    assert sorted(metadata.reservation_ids) == sorted([first["id"], second["id"]])
    assert sorted(metadata.cart_item_ids) == sorted(BEATS)
    assert metadata.user_id == user.id
    assert metadata.user_email == user.email
    assert (metadata.services_total, metadata.cart_total) == (services_total, sum(BEATS.values()))
    assert stripe["amount_total"] == metadata.order_total == services_total + sum(BEATS.values())

    await h.complete(session["sessionId"], "paid")
    for reservation in (first, second):
        done = await h.wait_status(user, reservation["id"], "succeeded")
        assert done["payment"]["paidAmount"] == reservation["amount"]
    # One confirmation per reservation, and one for the order of beats.
    mails = await h.wait_messages_to(user.email, 3)
    await h.assert_one_email_per_fact(user)
    assert len(mails) == 3
    assert sum("Order confirmed" in m["Subject"] for m in mails) == 1


async def test_beats_only_session_carries_the_seed_metadata(shared_stack: Harness) -> None:
    h = shared_stack
    user = h.user("beats")
    session = await h.create_session(user, cart_item_ids=list(BEATS))
    stripe = await h.stripe_session(session["sessionId"])
    metadata = ReservationCheckoutMetadata.from_stripe_metadata(stripe["metadata"])
    assert metadata.checkout_type == "beats_only"
    assert metadata.reservation_ids == []
    assert sorted(metadata.cart_item_ids) == sorted(BEATS)
    assert stripe["amount_total"] == metadata.cart_total == sum(BEATS.values())
    await h.complete(session["sessionId"], "paid")
    assert (await h.stripe_session(session["sessionId"]))["payment_status"] == "paid"


async def test_paid_beats_get_an_order_confirmation_email(shared_stack: Harness) -> None:
    h = shared_stack
    user = h.user("beatsmail")
    session = await h.create_session(user, cart_item_ids=list(BEATS))
    await h.complete(session["sessionId"], "paid")
    mails = await h.wait_messages_to(user.email, 1, timeout=15)
    assert len(mails) == 1
    assert "Order confirmed" in mails[0]["Subject"]
    text = await h.message_text(mails[0]["ID"])
    assert "Midnight Tape" in text
    assert "Low Tide" in text
    await h.assert_one_email_per_fact(user)
    [fact] = await h.facts_of(user)
    assert isinstance(fact, OrderConfirmedV1)
    assert fact.order_id == session["sessionId"]
    assert fact.total == sum(BEATS.values())


async def test_delayed_method_processing_then_succeeded(shared_stack: Harness) -> None:
    h = shared_stack
    user = h.user("delayed")
    booked = await h.book(user)
    session = await h.create_session(user, [booked["id"]])
    await h.complete(session["sessionId"], "delayed")
    assert (await h.stripe_session(session["sessionId"]))["payment_status"] == "unpaid"
    processing = await h.wait_status(user, booked["id"], "processing")
    assert processing["payment"] is None

    await h.complete(session["sessionId"], "delayed_succeeded")
    await h.wait_status(user, booked["id"], "succeeded")
    await h.assert_one_email_per_fact(user)
    assert len(await h.messages_to(user.email)) == 1


async def test_delayed_method_fails_then_a_new_session_succeeds(shared_stack: Harness) -> None:
    h = shared_stack
    user = h.user("retry")
    booked = await h.book(user)
    first = await h.create_session(user, [booked["id"]])
    await h.complete(first["sessionId"], "delayed")
    await h.wait_status(user, booked["id"], "processing")
    await h.complete(first["sessionId"], "delayed_failed")
    await h.wait_status(user, booked["id"], "failed")
    failed_mail = await h.wait_messages_to(user.email, 1)

    second = await h.create_session(user, [booked["id"]])
    assert second["sessionId"] != first["sessionId"]
    await h.complete(second["sessionId"], "paid")
    done = await h.wait_status(user, booked["id"], "succeeded")
    assert done["payment"]["stripeSessionId"] == second["sessionId"]
    await h.assert_one_email_per_fact(user)
    mails = await h.messages_to(user.email)
    assert len(mails) == 2
    assert failed_mail[0]["Subject"] != mails[-1]["Subject"]
