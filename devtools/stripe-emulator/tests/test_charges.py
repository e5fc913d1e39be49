"""Charges as Stripe makes them: py_ ids for bank debits, charge.updated, decline codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import stripe

from .conftest import Receiver, wait_for_types
from .test_refunds import _control


def test_delayed_method_charge_has_a_py_id_and_is_updated_once_booked(
    client: stripe.StripeClient,
    control: httpx.Client,
    receiver: Receiver,
    make_session: Callable[..., Any],
) -> None:
    session = make_session()
    path = f"/_emulator/checkout/sessions/{session.id}/complete"
    _control(control, path, outcome="delayed")
    _control(control, path, outcome="delayed_succeeded")
    events = wait_for_types(receiver, "charge.pending", "charge.succeeded", "charge.updated")
    listed = client.v1.events.list(params={"type": "charge.*"}).data  # newest first
    assert [e.type for e in reversed(listed)] == [
        "charge.pending",
        "charge.succeeded",
        "charge.updated",
    ]
    updated = next(e for e in events if e.type == "charge.updated")
    assert updated.data.object.id.startswith("py_")
    assert updated.data.object.balance_transaction.startswith("txn_")
    assert updated.data.previous_attributes.to_dict() == {"balance_transaction": None}
    intent = client.v1.payment_intents.retrieve(updated.data.object.payment_intent)
    assert client.v1.charges.retrieve(intent.latest_charge).status == "succeeded"  # type: ignore[arg-type]


def test_card_decline_carries_its_decline_code(
    control: httpx.Client, receiver: Receiver, make_session: Callable[..., Any]
) -> None:
    session = make_session()
    _control(
        control,
        f"/_emulator/checkout/sessions/{session.id}/complete",
        outcome="failed",
        decline_code="insufficient_funds",
    )
    events = wait_for_types(receiver, "payment_intent.payment_failed", "charge.failed")
    failed = next(e for e in events if e.type == "payment_intent.payment_failed")
    error = failed.data.object.last_payment_error
    assert (error.code, error.decline_code) == ("card_declined", "insufficient_funds")
    assert error.message == "Your card has insufficient funds."
    charge = next(e for e in events if e.type == "charge.failed").data.object
    assert charge.id.startswith("ch_")
    assert charge.outcome.reason == "insufficient_funds"
