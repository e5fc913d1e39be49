"""The Stripe event envelope, its Kafka key per event type, and the object views."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contracts import stripe
from contracts.stripe_objects import (
    ChargeObject,
    CheckoutSessionObject,
    DisputeObject,
    PaymentIntentObject,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(where: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / where / f"{name}.json").read_text())
    return data


def stripe_example(name: str) -> stripe.StripeEvent:
    return stripe.parse_stripe_event((EXAMPLES / "stripe.events" / f"{name}.json").read_bytes())


# --- Stripe envelope and keys -------------------------------------------------------------------

SESSION_ID = "cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY"
PI_ID = "pi_1PgafyB7WZ01zgkWSjxsAJo3"


@pytest.mark.parametrize(
    ("name", "event_type", "key"),
    [
        ("checkout_session_completed_paid", stripe.CHECKOUT_SESSION_COMPLETED, SESSION_ID),
        ("checkout_session_completed_unpaid", stripe.CHECKOUT_SESSION_COMPLETED, SESSION_ID),
        (
            "checkout_session_async_payment_succeeded",
            stripe.CHECKOUT_SESSION_ASYNC_PAYMENT_SUCCEEDED,
            SESSION_ID,
        ),
        (
            "checkout_session_async_payment_failed",
            stripe.CHECKOUT_SESSION_ASYNC_PAYMENT_FAILED,
            SESSION_ID,
        ),
        ("checkout_session_expired", stripe.CHECKOUT_SESSION_EXPIRED, SESSION_ID),
        ("payment_intent_payment_failed", stripe.PAYMENT_INTENT_PAYMENT_FAILED, PI_ID),
        ("charge_refunded", stripe.CHARGE_REFUNDED, PI_ID),
    ],
)
def test_event_key(name: str, event_type: str, key: str) -> None:
    event = stripe_example(name)
    assert event.type == event_type
    assert event.handled
    assert stripe.event_key(event) == key


def _event(event_type: str, obj: dict[str, Any]) -> stripe.StripeEvent:
    return stripe.StripeEvent.model_validate(
        {
            "id": "evt_1",
            "type": event_type,
            "created": 1,
            "livemode": False,
            "data": {"object": obj},
        }
    )


def test_event_key_fallbacks() -> None:
    charge = {"id": "ch_1", "object": "charge", "payment_intent": None}
    assert stripe.event_key(_event(stripe.CHARGE_REFUNDED, charge)) == "ch_1"
    expanded = {"id": "ch_2", "payment_intent": {"id": "pi_9", "object": "payment_intent"}}
    assert stripe.event_key(_event(stripe.CHARGE_REFUNDED, expanded)) == "pi_9"
    assert stripe.event_key(_event("plan.created", {"id": "price_1"})) == "price_1"
    assert stripe.event_key(_event("balance.available", {"object": "balance"})) == "evt_1"
    assert not _event("plan.created", {"id": "price_1"}).handled


def test_stripe_object_views() -> None:
    paid = CheckoutSessionObject.from_event(stripe_example("checkout_session_completed_paid"))
    assert (paid.id, paid.payment_status, paid.payment_intent) == (SESSION_ID, "paid", PI_ID)
    assert paid.customer_details is not None
    assert paid.customer_details.email == "ada@example.com"
    failed = PaymentIntentObject.from_event(stripe_example("payment_intent_payment_failed"))
    assert failed.last_payment_error is not None
    assert failed.last_payment_error.code == "card_declined"
    charge = ChargeObject.from_event(stripe_example("charge_refunded"))
    assert (charge.refunded, charge.amount_refunded, charge.payment_intent) == (True, 15000, PI_ID)


def test_dispute_events_are_keyed_by_payment_intent_and_read_as_disputes() -> None:
    for name, status in (
        ("charge_dispute_created", "needs_response"),
        ("charge_dispute_closed", "lost"),
    ):
        event = stripe.parse_stripe_event(
            (EXAMPLES / "stripe.events" / f"{name}.json").read_bytes()
        )
        assert event.handled
        assert stripe.event_key(event) == "pi_3PgaxMB7WZ01zgkW0vQ2Yk8d"
        dispute = DisputeObject.from_event(event)
        assert (dispute.status, dispute.amount, dispute.charge) == (
            status,
            15000,
            "ch_3PgaxMB7WZ01zgkW0pXKmN1c",
        )


def test_refund_events_travel_with_their_payment() -> None:
    # A refund's news shares the partition of its payment's charge events (its payment intent).
    refund = {"id": "re_1", "object": "refund", "payment_intent": "pi_7", "amount": 5}
    for event_type in sorted(stripe.REFUND_EVENT_TYPES):
        event = _event(event_type, refund)
        assert event.handled
        assert stripe.event_key(event) == "pi_7"
    lone = {"id": "re_2", "object": "refund", "payment_intent": None}
    assert stripe.event_key(_event(stripe.REFUND_CREATED, lone)) == "re_2"
