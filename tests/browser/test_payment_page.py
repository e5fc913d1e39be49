"""The payment page in a real browser against the whole running stack and the Stripe emulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .conftest import Shop

pytestmark = pytest.mark.e2e


def test_reserve_and_pay_lands_on_confirmed(shop: Shop) -> None:
    shop.open()
    shop.hold_slot("Mixing")
    shop.add_beat("Low Tide")
    assert shop.total() == "€169.99"
    shop.to_stripe()
    shop.on_stripe("Pay")
    shop.page.wait_for_url("**/checkout/success?session_id=*")
    shop.outcome("confirmed")
    assert [r["status"] for r in shop.reservations()] == ["succeeded"]
    assert shop.stored_checkout() is None
    shop.screenshot("paid-confirmed")
