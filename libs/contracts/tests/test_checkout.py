"""Tolerant readers, integer money, and the seed's checkout metadata through Stripe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import stripe
from contracts.checkout import CheckoutSessionCreatedV1, ReservationCheckoutMetadata
from contracts.deadletter import (
    DeadLetterHeadersV1,
)
from contracts.registry import TOPIC_CONTRACTS, parse_value
from contracts.reservation import (
    ReservationPaymentUpdate,
    parse_fact,
)
from contracts.stripe_objects import CheckoutSessionObject

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(where: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / where / f"{name}.json").read_text())
    return data


def stripe_example(name: str) -> stripe.StripeEvent:
    return stripe.parse_stripe_event((EXAMPLES / "stripe.events" / f"{name}.json").read_bytes())


# --- readers ignore unknown fields -------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*/*.json")), ids=lambda p: p.stem)
def test_unknown_field_is_ignored(path: Path) -> None:
    payload = json.loads(path.read_text())
    payload["added_in_a_later_version"] = {"anything": [1, 2]}
    where = path.parent.name
    if where in TOPIC_CONTRACTS:
        parse_value(where, json.dumps(payload))
    elif where == "stripe.checkout_session.metadata":
        ReservationCheckoutMetadata.from_stripe_metadata(payload)
    elif where == "reservation.payment_update":
        ReservationPaymentUpdate.model_validate(payload)
    else:
        DeadLetterHeadersV1.model_validate(payload)


def test_models_are_frozen() -> None:
    fact = parse_fact(json.dumps(example("reservation.events", "reservation_confirmed")))
    with pytest.raises(ValidationError):
        fact.user_email = "someone@else.example"  # type: ignore[misc]


# --- money is integer minor units ---------------------------------------------------------------


def test_float_amount_is_rejected() -> None:
    payload = example("reservation.events", "reservation_confirmed")
    payload["amount_paid"] = 150.0
    with pytest.raises(ValidationError, match="amount_paid"):
        parse_fact(json.dumps(payload))


def test_currency_is_read_case_insensitively_and_written_lower() -> None:
    update = ReservationPaymentUpdate.model_validate(
        {
            "reservationId": "r1",
            "paymentStatus": "succeeded",
            "paidAmount": 100,
            "paidCurrency": "EUR",
        }
    )
    assert update.paid_currency == "eur"
    assert update.model_dump(by_alias=True)["paidCurrency"] == "eur"


# --- the seed's checkout metadata ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["reservation_payment", "mixed_cart", "beats_only"])
def test_metadata_round_trips_through_stripe(name: str) -> None:
    raw = example("stripe.checkout_session.metadata", name)
    meta = ReservationCheckoutMetadata.from_stripe_metadata(raw)
    out = meta.to_stripe_metadata()
    assert all(isinstance(v, str) and len(v) <= 500 for v in out.values())
    assert out == raw
    assert ReservationCheckoutMetadata.from_stripe_metadata(out) == meta


def test_metadata_from_python_values() -> None:
    meta = ReservationCheckoutMetadata(
        user_id="u1",
        user_email="u1@example.com",
        checkout_type="mixed_cart",
        reservation_ids=["r1", "r2"],
        cart_item_ids=["b1"],
        services_count=2,
        services_total=30000,
        cart_count=1,
        cart_total=2999,
        order_total=32999,
        description="x" * 900,
    )
    out = meta.to_stripe_metadata()
    assert out["type"] == "mixed_cart"
    assert out["reservationIds"] == "r1,r2"
    assert out["orderTotal"] == "32999"
    assert len(out["description"]) == 500
    assert ReservationCheckoutMetadata.from_stripe_metadata(out) == meta


def test_metadata_is_read_from_a_session_event() -> None:
    session = CheckoutSessionObject.from_event(stripe_example("checkout_session_completed_paid"))
    meta = ReservationCheckoutMetadata.from_stripe_metadata(session.metadata)
    assert meta.reservation_ids == [session.metadata["reservationIds"]]
    assert meta.order_total == session.amount_total


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"servicesTotal": "150.00"}, "servicesTotal"),
        ({"orderTotal": "1"}, "orderTotal"),
        ({"type": "beats_only"}, "disagree"),
        ({"reservationIds": ",".join(["r" * 30] * 20)}, "500"),
    ],
)
def test_bad_metadata_is_refused(change: dict[str, str], match: str) -> None:
    raw = example("stripe.checkout_session.metadata", "reservation_payment") | change
    with pytest.raises(ValidationError, match=match):
        ReservationCheckoutMetadata.from_stripe_metadata(raw)


def test_checkout_session_created_totals_must_add_up() -> None:
    payload = example("checkout.sessions", "mixed_cart") | {"order_total": 1}
    with pytest.raises(ValidationError, match="order_total"):
        CheckoutSessionCreatedV1.model_validate(payload)


def test_checkout_session_created_without_cart_items_still_parses() -> None:
    # A producer older than the field: readers get an empty list, nothing else changes.
    payload = example("checkout.sessions", "mixed_cart")
    del payload["cart_items"]
    fact = CheckoutSessionCreatedV1.model_validate(payload)
    assert fact.cart_items == []
    assert fact.cart_item_ids == ["beat_7f3k", "beat_9x2m"]


def test_checkout_session_created_carries_the_beats_as_sold() -> None:
    fact = CheckoutSessionCreatedV1.model_validate(example("checkout.sessions", "beats_only"))
    [item] = fact.cart_items
    assert (item.item_id, item.title, item.price) == ("beat_7f3k", "Midnight Tape", 2999)
    assert json.loads(fact.model_dump_json())["cart_items"][0]["title"] == "Midnight Tape"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda items: items[:1], "exactly the cart_item_ids"),
        (lambda items: [items[0], items[0]], "exactly the cart_item_ids"),
        (lambda items: [items[0], {**items[1], "price": 1}], "add up to cart_total"),
    ],
)
def test_cart_items_must_agree_with_the_ids_and_the_total(change: Any, match: str) -> None:
    payload = example("checkout.sessions", "mixed_cart")
    payload["cart_items"] = change(payload["cart_items"])
    with pytest.raises(ValidationError, match=match):
        CheckoutSessionCreatedV1.model_validate(payload)
