"""The hosted page at session.url, driven with plain HTTP form posts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import stripe

from .conftest import Receiver, wait_for_types


def test_page_shows_items_and_pay_redirects_to_success_url(
    client: stripe.StripeClient, receiver: Receiver, make_session: Callable[..., Any]
) -> None:
    session = make_session()
    page = httpx.get(session.url)
    assert page.status_code == 200
    assert "Mixing session" in page.text
    assert "Beat: Night Drive" in page.text
    assert "129.99 USD" in page.text
    for action in ("pay", "delayed", "fail", "cancel"):
        assert f"/c/pay/{session.id}/{action}" in page.text
    paid = httpx.post(f"{session.url}/pay")
    assert paid.status_code == 303
    assert paid.headers["location"] == f"http://shop.test/success?session_id={session.id}"
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"
    wait_for_types(receiver, "checkout.session.completed")


def test_cancel_redirects_without_an_event(
    client: stripe.StripeClient, make_session: Callable[..., Any]
) -> None:
    session = make_session()
    cancelled = httpx.post(f"{session.url}/cancel")
    assert cancelled.status_code == 303
    assert cancelled.headers["location"] == "http://shop.test/cancel"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert client.v1.events.list().data == []


def test_decline_then_delayed_payment_settled_on_the_processing_page(
    client: stripe.StripeClient, receiver: Receiver, make_session: Callable[..., Any]
) -> None:
    session = make_session()
    with httpx.Client(follow_redirects=True) as browser:
        declined = browser.post(f"{session.url}/fail")
        assert "Your card was declined." in declined.text
        processing = browser.post(f"{session.url}/delayed")
        assert "Payment processing" in processing.text
        assert "http://shop.test/success?session_id=" + session.id in processing.text
        settled = browser.post(f"{session.url}/settle/succeeded")
        assert "Paid" in settled.text
    wait_for_types(
        receiver,
        "payment_intent.payment_failed",
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
    )
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"


def test_unknown_session_page_is_404(emulator_url: str, control: httpx.Client) -> None:
    assert httpx.get(f"{emulator_url}/c/pay/cs_test_nope").status_code == 404
