"""Pricing an order: type, totals, metadata, canonical order and idempotency keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from checkout.domain.model import Beat, Order, OrderError, PricedReservation, unique_ids

NOW = datetime(2026, 3, 14, 11, 0, tzinfo=UTC)


def reservation(rid: str, amount: int = 15000, currency: str = "eur") -> PricedReservation:
    return PricedReservation(rid, f"Mixing {rid}", amount, currency, NOW + timedelta(hours=1))


BEAT_A = Beat("beat_a", "Alpha", 2999, "eur")
BEAT_B = Beat("beat_b", "Bravo", 1999, "eur")


def test_types_and_totals() -> None:
    only = Order.build("u1", "u1@x.test", [reservation("r1")], [])
    mixed = Order.build("u1", "u1@x.test", [reservation("r1"), reservation("r2", 12000)], [BEAT_A])
    beats = Order.build("u1", "u1@x.test", [], [BEAT_B, BEAT_A])
    assert only.checkout_type == "reservation_payment"
    assert mixed.checkout_type == "mixed_cart"
    assert beats.checkout_type == "beats_only"
    assert (mixed.services_total, mixed.cart_total, mixed.order_total) == (27000, 2999, 29999)
    assert beats.cart_item_ids == ["beat_a", "beat_b"]
    assert [i.unit_amount for i in mixed.line_items] == [15000, 12000, 2999]


def test_metadata_is_the_seeds_shape() -> None:
    order = Order.build("u1", "u1@x.test", [reservation("r1")], [BEAT_A, BEAT_B])
    metadata = order.metadata().to_stripe_metadata()
    assert metadata == {
        "userId": "u1",
        "userEmail": "u1@x.test",
        "type": "mixed_cart",
        "reservationIds": "r1",
        "cartItemIds": "beat_a,beat_b",
        "servicesCount": "1",
        "servicesTotal": "15000",
        "cartCount": "2",
        "cartTotal": "4998",
        "orderTotal": "19998",
        "description": "Mixing r1 + 2 beats",
    }


def test_empty_and_mixed_currencies_are_refused() -> None:
    with pytest.raises(OrderError) as empty:
        Order.build("u1", "u1@x.test", [], [])
    assert empty.value.code == "empty_order"
    with pytest.raises(OrderError) as mixed:
        Order.build("u1", "u1@x.test", [reservation("r1")], [Beat("beat_usd", "U", 999, "usd")])
    assert (mixed.value.code, mixed.value.item_id) == ("currency_mismatch", "beat_usd")


def test_same_items_in_any_order_share_a_key_other_items_or_prices_do_not() -> None:
    one = Order.build("u1", "e@x.test", [reservation("r1"), reservation("r2")], [BEAT_A])
    two = Order.build("u1", "e@x.test", [reservation("r2"), reservation("r1")], [BEAT_A])
    other_user = Order.build("u2", "e@x.test", [reservation("r1"), reservation("r2")], [BEAT_A])
    repriced = Order.build("u1", "e@x.test", [reservation("r1", 1), reservation("r2")], [BEAT_A])
    assert one.fingerprint == two.fingerprint
    assert one.idempotency_key(0) == two.idempotency_key(0)
    assert one.idempotency_key(0) != one.idempotency_key(1)
    assert other_user.idempotency_key(0) != one.idempotency_key(0)
    assert repriced.fingerprint == one.fingerprint
    assert repriced.idempotency_key(0) != one.idempotency_key(0)
    assert len(one.idempotency_key(0)) < 255  # Stripe's limit


def test_unique_ids_sorts_and_drops_repeats_and_blanks() -> None:
    assert unique_ids(["b", "a", "b", " ", "a "]) == ["a", "b"]
