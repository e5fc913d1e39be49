"""Events reach a real HTTP endpoint signed as Stripe signs, with retries, replays and refunds."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import stripe

from .conftest import Receiver, events_of, wait_for, wait_for_types


def _complete(control: httpx.Client, session_id: str, outcome: str) -> dict[str, Any]:
    response = control.post(
        f"/_emulator/checkout/sessions/{session_id}/complete", json={"outcome": outcome}
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def test_paid_session_delivers_verifiable_completed_event(
    control: httpx.Client, receiver: Receiver, make_session: Callable[..., Any]
) -> None:
    session = make_session()
    _complete(control, session.id, "paid")
    events = wait_for_types(receiver, "checkout.session.completed", "payment_intent.succeeded")
    completed = next(e for e in events if e.type == "checkout.session.completed")
    assert completed.id.startswith("evt_")
    assert completed.object == "event"
    assert completed.livemode is False
    assert completed.api_version
    assert completed.pending_webhooks == 1
    assert completed.request.to_dict() == {"id": None, "idempotency_key": None}
    obj = completed.data.object
    assert (obj.id, obj.payment_status, obj.status) == (session.id, "paid", "complete")
    assert obj.metadata["type"] == "mixed_cart"
    assert obj.payment_intent.startswith("pi_")


def test_delayed_payment_then_success_or_failure(
    control: httpx.Client, receiver: Receiver, make_session: Callable[..., Any]
) -> None:
    ok, ko = make_session(), make_session()
    assert _complete(control, ok.id, "delayed")["payment_status"] == "unpaid"
    _complete(control, ok.id, "delayed_succeeded")
    _complete(control, ko.id, "delayed_failed")  # from open: delayed, then failed
    events = wait_for_types(
        receiver,
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
    )
    by = {(e.type, e.data.object.id): e.data.object for e in events}
    assert by[("checkout.session.completed", ok.id)].payment_status == "unpaid"
    assert by[("checkout.session.async_payment_succeeded", ok.id)].payment_status == "paid"
    assert by[("checkout.session.async_payment_failed", ko.id)].payment_status == "unpaid"


def test_failed_payment_keeps_the_session_open(
    client: stripe.StripeClient,
    control: httpx.Client,
    receiver: Receiver,
    make_session: Callable[..., Any],
) -> None:
    session = make_session()
    assert _complete(control, session.id, "failed")["status"] == "open"
    events = wait_for_types(receiver, "payment_intent.payment_failed")
    failed = next(e for e in events if e.type == "payment_intent.payment_failed")
    assert failed.data.object.last_payment_error.code == "card_declined"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    _complete(control, session.id, "paid")  # the customer tries again
    wait_for_types(receiver, "checkout.session.completed")


def test_retries_until_the_endpoint_recovers(
    control: httpx.Client, receiver: Receiver, make_session: Callable[..., Any]
) -> None:
    control.post("/_emulator/webhook", json={"enabled_events": ["checkout.session.*"]})
    session = make_session()
    receiver.reset(statuses=[500, 500])
    _complete(control, session.id, "paid")
    wait_for(lambda: len(receiver.received) == 3, what="three attempts")
    events = events_of(receiver)
    assert {e.type for e in events} == {"checkout.session.completed"}
    assert len({e.id for e in events}) == 1
    log = wait_for(
        lambda: (d := control.get("/_emulator/deliveries").json())["pending"] == 0 and d["data"]
    )
    assert [(a["attempt"], a["status_code"], a["outcome"]) for a in log] == [
        (1, 500, "retrying"),
        (2, 500, "retrying"),
        (3, 200, "succeeded"),
    ]


def test_unreachable_endpoint_gives_up_after_max_attempts(
    control: httpx.Client, make_session: Callable[..., Any]
) -> None:
    with closed_port_url() as url:
        control.post("/_emulator/webhook", json={"urls": [url]})
        _complete(control, make_session().id, "expired")
        log = wait_for(
            lambda: [
                a
                for a in control.get("/_emulator/deliveries").json()["data"]
                if a["outcome"] == "gave_up"
            ]
        )
    assert log[0]["attempt"] == 4
    assert log[0]["error"]


def test_resend_duplicates_keep_the_event_id(
    control: httpx.Client, receiver: Receiver, make_session: Callable[..., Any]
) -> None:
    control.post("/_emulator/webhook", json={"enabled_events": ["checkout.session.completed"]})
    _complete(control, make_session().id, "paid")
    first = wait_for_types(receiver, "checkout.session.completed")[0]
    response = control.post(f"/_emulator/events/{first.id}/resend", json={"times": 2})
    assert response.json()["deliveries_queued"] == 2
    wait_for(lambda: len(receiver.received) == 3, what="two duplicates")
    events = events_of(receiver)
    assert [e.id for e in events] == [first.id] * 3
    assert len(set(receiver.bodies())) == 1  # the same bytes each time


def test_refund_emits_charge_refunded(
    client: stripe.StripeClient,
    control: httpx.Client,
    receiver: Receiver,
    make_session: Callable[..., Any],
) -> None:
    session = make_session()
    pi = _complete(control, session.id, "paid")["payment_intent"]
    opts: Any = {"idempotency_key": "refund-1"}
    refund = client.v1.refunds.create(
        params={
            "payment_intent": pi,
            "amount": 1000,
            "reason": "requested_by_customer",
            "metadata": {"reservation_id": "r1"},
        },
        options=opts,
    )
    assert refund.id.startswith("re_")
    assert (refund.object, refund.status, refund.amount) == ("refund", "succeeded", 1000)
    assert refund.payment_intent == pi
    events = wait_for_types(receiver, "charge.refunded", "refund.created")
    charge = next(e for e in events if e.type == "charge.refunded")
    assert charge.data.object.amount_refunded == 1000
    assert charge.data.object.refunded is False
    assert charge.request.idempotency_key == "refund-1"
    rest = client.v1.refunds.create(params={"payment_intent": pi})
    assert rest.amount == session.amount_total - 1000
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create(params={"payment_intent": pi})
    assert err.value.code == "charge_already_refunded"


@contextlib.contextmanager
def closed_port_url() -> Iterator[str]:
    """A URL on a port bound but never listening: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
