"""Refunds as on Stripe: partial sums, pending then settled or failed, Dashboard refunds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import stripe

from .conftest import Receiver, wait_for_types

TOTAL = 2 * 5000 + 2999  # make_session's amount


def _paid(control: httpx.Client, make_session: Callable[..., Any]) -> str:
    session = make_session()
    response = control.post(
        f"/_emulator/checkout/sessions/{session.id}/complete", json={"outcome": "paid"}
    )
    response.raise_for_status()
    return str(response.json()["payment_intent"])


def _control(control: httpx.Client, path: str, **body: Any) -> dict[str, Any]:
    response = control.post(path, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_partial_refunds_add_up_to_the_charge(
    client: stripe.StripeClient, control: httpx.Client, make_session: Callable[..., Any]
) -> None:
    pi = _paid(control, make_session)
    charge_id = client.v1.payment_intents.retrieve(pi).latest_charge
    assert isinstance(charge_id, str)
    first = client.v1.refunds.create(params={"payment_intent": pi, "amount": 4000})
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create(params={"charge": charge_id, "amount": TOTAL})
    assert (err.value.code, err.value.param) == ("amount_too_large", "amount")
    charge = client.v1.charges.retrieve(charge_id)
    assert (charge.amount_refunded, charge.refunded) == (4000, False)
    rest = client.v1.refunds.create(params={"charge": charge_id})
    assert rest.amount == TOTAL - 4000
    charge = client.v1.charges.retrieve(charge_id)
    assert (charge.amount_refunded, charge.refunded) == (TOTAL, True)
    assert [r.id for r in charge.refunds.data] == [rest.id, first.id]
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create(params={"payment_intent": pi, "amount": 1})
    assert err.value.code == "charge_already_refunded"
    listed = client.v1.refunds.list(params={"payment_intent": pi}).data
    assert [r.id for r in listed] == [rest.id, first.id]


def test_a_refund_is_made_once_per_idempotency_key(
    client: stripe.StripeClient, control: httpx.Client, make_session: Callable[..., Any]
) -> None:
    pi = _paid(control, make_session)
    opts: Any = {"idempotency_key": "refund-r1"}
    params: Any = {"payment_intent": pi, "amount": 500, "metadata": {"reservation_id": "r1"}}
    first = client.v1.refunds.create(params=params, options=opts)
    again = client.v1.refunds.create(params=params, options=opts)
    assert again.id == first.id
    assert first.metadata.to_dict() == {"reservation_id": "r1"}
    assert len(client.v1.refunds.list(params={"payment_intent": pi}).data) == 1


def test_pending_refund_then_succeeded(
    client: stripe.StripeClient,
    control: httpx.Client,
    receiver: Receiver,
    make_session: Callable[..., Any],
) -> None:
    pi = _paid(control, make_session)
    assert _control(control, "/_emulator/refunds/pending", count=1) == {"count": 1}
    with pytest.raises(stripe.InvalidRequestError):  # refused: does not use up the count
        client.v1.refunds.create(params={"payment_intent": pi, "amount": TOTAL + 1})
    assert control.get("/_emulator/refunds/pending").json() == {"count": 1}
    refund = client.v1.refunds.create(params={"payment_intent": pi, "amount": 1000})
    assert refund.status == "pending"
    assert client.v1.refunds.create(params={"payment_intent": pi, "amount": 1}).status == (
        "succeeded"  # only the next one was made pending
    )
    assert client.v1.charges.retrieve(refund.charge).amount_refunded == 1001  # pending counts
    settled = _control(control, f"/_emulator/refunds/{refund.id}/settle", outcome="succeeded")
    assert settled["status"] == "succeeded"
    events = wait_for_types(receiver, "refund.updated", "charge.refund.updated")
    updated = next(e for e in events if e.type == "refund.updated")
    assert updated.data.object.status == "succeeded"
    assert updated.data.previous_attributes.to_dict() == {"status": "pending"}
    assert client.v1.refunds.retrieve(refund.id).status == "succeeded"
    assert not [e for e in events if e.type == "refund.failed"]


def test_pending_refund_that_fails_gives_the_amount_back(
    client: stripe.StripeClient,
    control: httpx.Client,
    receiver: Receiver,
    make_session: Callable[..., Any],
) -> None:
    pi = _paid(control, make_session)
    _control(control, "/_emulator/refunds/pending", count=None)
    refund = client.v1.refunds.create(params={"payment_intent": pi})
    assert (refund.status, refund.amount) == ("pending", TOTAL)
    assert client.v1.charges.retrieve(refund.charge).refunded is True
    failed = _control(
        control,
        f"/_emulator/refunds/{refund.id}/settle",
        outcome="failed",
        failure_reason="expired_or_canceled_card",
    )
    assert (failed["status"], failed["failure_reason"]) == ("failed", "expired_or_canceled_card")
    events = wait_for_types(receiver, "refund.failed", "refund.updated", "charge.refund.updated")
    assert next(e for e in events if e.type == "refund.failed").data.object.id == refund.id
    charge = client.v1.charges.retrieve(refund.charge)
    assert (charge.amount_refunded, charge.refunded) == (0, False)
    assert client.v1.refunds.create(params={"payment_intent": pi}).amount == TOTAL  # refundable
    bad = control.post(f"/_emulator/refunds/{refund.id}/settle", json={"outcome": "succeeded"})
    assert bad.status_code == 400  # settled already


def test_dashboard_refund_has_no_idempotency_key(
    client: stripe.StripeClient,
    control: httpx.Client,
    receiver: Receiver,
    make_session: Callable[..., Any],
) -> None:
    pi = _paid(control, make_session)
    refund = _control(
        control, "/_emulator/refunds", payment_intent=pi, amount=700, reason="duplicate"
    )
    assert (refund["object"], refund["amount"], refund["status"]) == ("refund", 700, "succeeded")
    events = wait_for_types(receiver, "refund.created", "charge.refunded")
    refunded = next(e for e in events if e.type == "charge.refunded")
    assert refunded.data.object.amount_refunded == 700
    assert refunded.request.idempotency_key is None
    assert refunded.request.id.startswith("req_")
    assert client.v1.refunds.retrieve(refund["id"]).reason == "duplicate"
