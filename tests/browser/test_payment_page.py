"""The payment page in a real browser against the whole running stack and the Stripe emulator.

Each test is one user on its own day of the studio calendar; each saves a screenshot of the
page it ends on into artifacts/browser/.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Request, Route

from devstack.devauth import DevAuth

if TYPE_CHECKING:
    from pathlib import Path

    from .conftest import Shop, StripeControl

pytestmark = pytest.mark.e2e

CREATE_PATH = "/api/clerk/create-checkout-session"


def _focused_id(shop: Shop) -> str:
    return str(shop.page.evaluate("() => document.activeElement && document.activeElement.id"))


def _tab_to(shop: Shop, element_id: str, limit: int = 25) -> None:
    for _ in range(limit):
        if _focused_id(shop) == element_id:
            return
        shop.page.keyboard.press("Tab")
    assert _focused_id(shop) == element_id


def test_reserve_and_pay_lands_on_confirmed(shop: Shop) -> None:
    shop.open()
    shop.hold_slot("Mixing")
    shop.add_beat("Low Tide")
    assert shop.total() == "€169.99"  # 150.00 mixing + 19.99 beat, priced by the server
    shop.screenshot("review")
    shop.to_stripe()
    shop.on_stripe("Pay")
    shop.page.wait_for_url("**/checkout/success?session_id=*")
    shop.outcome("confirmed")
    assert [r["status"] for r in shop.reservations()] == ["succeeded"]
    assert shop.stored_checkout() is None  # nothing left to resume once confirmed
    shop.screenshot("paid-confirmed")


def test_cancel_on_stripe_then_retry(shop: Shop) -> None:
    shop.open()
    shop.hold_slot("Recording", hour="10:00")
    shop.to_stripe()
    first_session = shop.page.url
    shop.on_stripe("Cancel")
    notice = shop.page.locator("#notice")
    notice.wait_for(state="visible")
    assert "Payment cancelled" in notice.inner_text()
    assert "Recording" in shop.page.locator("#held").inner_text()  # the choice is kept
    assert shop.total() == "€120.00"
    shop.screenshot("cancelled")

    shop.to_stripe()
    assert shop.page.url == first_session  # the still-open session, not a second one
    shop.on_stripe("Pay")
    shop.outcome("confirmed")
    shop.screenshot("cancelled-then-paid")


def test_network_failure_shows_retry_that_keeps_the_input(shop: Shop) -> None:
    shop.open()
    shop.hold_slot("Mastering", hour="11:00")
    shop.add_beat("Neon Drift")
    total = shop.total()

    def offline(route: Route) -> None:
        route.abort("internetdisconnected")

    shop.page.route(f"**{CREATE_PATH}", offline)
    shop.page.get_by_role("button", name="Complete payment").click()
    error = shop.page.locator("#error")
    error.wait_for(state="visible")
    assert "couldn't reach the server" in error.inner_text()
    assert "Nothing was charged" in error.inner_text()
    assert _focused_id(shop) == "error"
    assert shop.page.get_by_label("Neon Drift").is_checked()
    assert shop.total() == total
    shop.screenshot("network-error")

    shop.page.unroute(f"**{CREATE_PATH}", offline)
    shop.page.get_by_role("button", name="Try again").click()
    shop.page.wait_for_url("**/c/pay/**")
    shop.on_stripe("Pay")
    shop.outcome("confirmed")
    shop.screenshot("network-error-then-paid")


def test_api_error_shows_the_servers_message_and_retry_succeeds(
    shop: Shop, stripe: StripeControl
) -> None:
    shop.open()
    shop.hold_slot("Mixing", hour="16:00")
    # Every attempt checkout makes within its retry budget (STRIPE_MAX_ATTEMPTS=4) fails.
    stripe.faults(500, count=4)
    shop.page.get_by_role("button", name="Complete payment").click()
    error = shop.page.locator("#error")
    error.wait_for(state="visible")
    assert "no payment was started, try again shortly" in error.inner_text()
    assert "Reference:" in error.inner_text()
    assert _focused_id(shop) == "error"
    assert not shop.page.url.count("/c/pay/")
    shop.screenshot("api-error")

    shop.page.get_by_role("button", name="Try again").click()
    shop.page.wait_for_url("**/c/pay/**")
    assert len(stripe.sessions_of(shop.user_id)) == 1


def test_refused_token_asks_to_sign_in_again_and_resumes(shop: Shop, tmp_path: Path) -> None:
    stranger = DevAuth(tmp_path / "other-key").ensure()  # a well-formed token we do not trust
    shop.page.goto(shop.url("/checkout"))
    shop.sign_in(stranger.issue_token(shop.user_id, shop.email))
    shop.page.locator("#services label", has_text="Recording").click()
    shop.page.get_by_label("Start time").select_option("18:00")
    shop.page.get_by_role("button", name="Hold this slot").click()
    signin = shop.page.locator("#signin")
    signin.wait_for(state="visible")
    assert "sign in again" in signin.inner_text()
    assert "Not signed in" in shop.page.locator("#account").inner_text()
    assert _focused_id(shop) == "signin-title"
    shop.screenshot("sign-in-again")

    shop.sign_in(shop.token)  # the interrupted booking goes on with what was chosen
    shop.page.locator("#held").wait_for(state="visible")
    assert "Recording" in shop.page.locator("#held").inner_text()
    assert [r["status"] for r in shop.reservations()] == ["pending"]


def test_double_click_creates_one_session(shop: Shop, stripe: StripeControl) -> None:
    shop.open()
    shop.hold_slot("Mastering", hour="15:00")
    shop.total()
    creates: list[Request] = []
    shop.page.on(
        "request",
        lambda r: creates.append(r) if r.method == "POST" and r.url.endswith(CREATE_PATH) else None,
    )
    shop.page.get_by_role("button", name="Complete payment").dblclick()
    shop.page.wait_for_url("**/c/pay/**")
    assert len(creates) == 1
    assert len(stripe.sessions_of(shop.user_id)) == 1
    shop.screenshot("double-click-stripe-page")


def test_delayed_payment_shows_processing_until_the_bank_confirms(
    shop: Shop, stripe: StripeControl
) -> None:
    shop.open()
    shop.hold_slot("Recording", hour="13:00")
    shop.to_stripe()
    shop.on_stripe("Pay with a delayed method")
    shop.page.get_by_role("link", name="Return to the merchant").click()
    shop.page.wait_for_url("**/checkout/success?session_id=*")
    shop.outcome("processing")
    # The reservation service hears of the session a moment later; it never says succeeded yet.
    shop.until(lambda: [r["status"] for r in shop.reservations()] == ["processing"])
    shop.screenshot("delayed-processing")

    session_id = shop.page.url.split("session_id=")[1]
    stripe.complete(session_id, "delayed_succeeded")
    shop.outcome("confirmed")
    shop.screenshot("delayed-confirmed")


def test_keyboard_alone_reaches_stripe(shop: Shop) -> None:
    shop.open()
    page = shop.page
    page.locator("#services input:checked").focus()
    page.keyboard.press("ArrowDown")  # Mastering -> Mixing
    assert page.locator("#service-mixing").is_checked()
    _tab_to(shop, "time")  # past the date (tomorrow by default) and its day/month/year parts
    page.keyboard.type("09")
    _tab_to(shop, "hold")
    page.keyboard.press("Enter")
    page.locator("#held").wait_for(state="visible")
    shop.total()
    _tab_to(shop, "pay")
    page.keyboard.press("Enter")
    page.wait_for_url("**/c/pay/**")
    assert "09:00" in page.locator("table").inner_text()
