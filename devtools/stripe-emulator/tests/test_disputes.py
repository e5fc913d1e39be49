"""Disputes opened on a payment and closed won or lost, with Stripe's events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import stripe

from .conftest import Receiver, wait_for_types
from .test_refunds import _control, _paid


def test_dispute_lost(
    client: stripe.StripeClient,
    control: httpx.Client,
    receiver: Receiver,
    make_session: Callable[..., Any],
) -> None:
    pi = _paid(control, make_session)
    dispute = _control(control, "/_emulator/disputes", payment_intent=pi)
    assert dispute["id"].startswith("dp_")
    assert (dispute["object"], dispute["status"], dispute["reason"]) == (
        "dispute",
        "needs_response",
        "fraudulent",
    )
    assert dispute["payment_intent"] == pi
    events = wait_for_types(receiver, "charge.dispute.created", "charge.dispute.funds_withdrawn")
    withdrawn = next(e for e in events if e.type == "charge.dispute.funds_withdrawn")
    assert withdrawn.data.object.balance_transactions[0].amount == -dispute["amount"]
    charge = client.v1.charges.retrieve(dispute["charge"])
    assert charge.disputed is True
    with pytest.raises(stripe.InvalidRequestError) as err:  # Stripe refuses it too
        client.v1.refunds.create(params={"payment_intent": pi})
    assert err.value.code == "charge_disputed"
    closed = _control(control, f"/_emulator/disputes/{dispute['id']}/close", outcome="lost")
    assert closed["status"] == "lost"
    events = wait_for_types(receiver, "charge.dispute.closed")
    assert next(e for e in events if e.type == "charge.dispute.closed").data.object.status == "lost"
    assert not [e for e in events if e.type == "charge.dispute.funds_reinstated"]
    assert client.v1.disputes.retrieve(dispute["id"]).status == "lost"


def test_dispute_won_reinstates_the_funds(
    control: httpx.Client, receiver: Receiver, make_session: Callable[..., Any]
) -> None:
    pi = _paid(control, make_session)
    dispute = _control(control, "/_emulator/disputes", payment_intent=pi, reason="duplicate")
    again = control.post("/_emulator/disputes", json={"payment_intent": pi})
    assert again.status_code == 400  # one dispute per charge
    _control(control, f"/_emulator/disputes/{dispute['id']}/close", outcome="won")
    events = wait_for_types(receiver, "charge.dispute.funds_reinstated", "charge.dispute.closed")
    closed = next(e for e in events if e.type == "charge.dispute.closed")
    assert (closed.data.object.status, closed.data.object.reason) == ("won", "duplicate")
    assert closed.data.previous_attributes.to_dict() == {"status": "needs_response"}
