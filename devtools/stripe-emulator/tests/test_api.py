"""The stripe package against the emulator's v1 API: sessions, lists, idempotency, faults."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import stripe

from .conftest import API_KEY


def test_create_and_retrieve_session(
    client: stripe.StripeClient, make_session: Callable[..., Any], emulator_url: str
) -> None:
    session = make_session(customer_email="buyer@example.com")
    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert session.amount_total == 2 * 5000 + 2999 == session.amount_subtotal
    assert session.currency == "usd"
    assert session.status == "open"
    assert session.payment_status == "unpaid"
    assert session.livemode is False
    assert session.client_reference_id == "user_123"
    assert session.metadata.to_dict() == {"type": "mixed_cart", "reservation_ids": "r1,r2"}
    assert session.url == f"{emulator_url}/c/pay/{session.id}"
    assert session.expires_at > time.time() + 23 * 3600
    got = client.v1.checkout.sessions.retrieve(session.id)
    assert got.to_dict() == session.to_dict()
    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert [(i.description, i.quantity, i.amount_total) for i in items.data] == [
        ("Mixing session", 2, 10000),
        ("Beat: Night Drive", 1, 2999),
    ]


def test_list_with_created_filters_and_pagination(
    client: stripe.StripeClient, make_session: Callable[..., Any]
) -> None:
    made = [make_session(client_reference_id=f"u{i}") for i in range(3)]
    now = int(time.time())
    page = client.v1.checkout.sessions.list(params={"limit": 2, "created": {"gte": now - 60}})
    assert page.object == "list"
    assert page.has_more is True
    assert [s.id for s in page.data] == [made[2].id, made[1].id]
    rest = client.v1.checkout.sessions.list(
        params={"limit": 2, "starting_after": page.data[-1].id, "created": {"lte": now + 60}}
    )
    assert [s.id for s in rest.data] == [made[0].id]
    assert rest.has_more is False
    assert client.v1.checkout.sessions.list(params={"created": {"gt": now + 60}}).data == []
    every = [s.id for s in client.v1.checkout.sessions.list(params={"limit": 1}).auto_paging_iter()]
    assert every == [m.id for m in reversed(made)]


def test_expire_session(client: stripe.StripeClient, make_session: Callable[..., Any]) -> None:
    session = make_session()
    expired = client.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired"
    assert expired.url is None
    with pytest.raises(stripe.InvalidRequestError, match="can be expired"):
        client.v1.checkout.sessions.expire(session.id)
    events = client.v1.events.list(params={"type": "checkout.session.expired"}).data
    assert [e.data.object.id for e in events] == [session.id]


def test_expires_at_passing_expires_the_session(
    client: stripe.StripeClient, make_session: Callable[..., Any]
) -> None:
    session = make_session(expires_at=int(time.time()) + 1)
    deadline = time.monotonic() + 5
    while client.v1.checkout.sessions.retrieve(session.id).status != "expired":
        assert time.monotonic() < deadline, "session did not expire"
        time.sleep(0.05)
    assert client.v1.events.list(params={"type": "checkout.session.expired"}).data


def test_expires_at_beyond_24_hours_is_refused(make_session: Callable[..., Any]) -> None:
    with pytest.raises(stripe.InvalidRequestError) as err:
        make_session(expires_at=int(time.time()) + 25 * 3600)
    assert err.value.param == "expires_at"


def test_same_idempotency_key_returns_the_same_session(
    client: stripe.StripeClient, make_session: Callable[..., Any]
) -> None:
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 1000,
                    "product_data": {"name": "Beat"},
                },
                "quantity": 1,
            }
        ],
    }
    opts: Any = {"idempotency_key": "user_1:beat_1"}
    first = client.v1.checkout.sessions.create(params=params, options=opts)
    second = client.v1.checkout.sessions.create(params=params, options=opts)
    assert first.id == second.id
    assert len(client.v1.checkout.sessions.list().data) == 1
    params["line_items"][0]["quantity"] = 2
    with pytest.raises(stripe.IdempotencyError):
        client.v1.checkout.sessions.create(params=params, options=opts)


def test_missing_or_bad_api_key(emulator_url: str, control: httpx.Client) -> None:
    response = httpx.get(f"{emulator_url}/v1/events")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    live = stripe.StripeClient("sk_live_nope", base_addresses={"api": emulator_url})
    with pytest.raises(stripe.AuthenticationError):
        live.v1.events.list()


def test_validation_and_missing_objects(
    client: stripe.StripeClient, make_session: Callable[..., Any]
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as err:
        make_session(
            line_items=[
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 100,
                        "product_data": {"name": "x"},
                    }
                }
            ]
        )
    assert err.value.param == "line_items[0][quantity]"
    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter: bogus"):
        make_session(bogus="1")
    with pytest.raises(stripe.InvalidRequestError) as err:
        make_session(metadata={"ids": "x" * 501})
    assert err.value.param == "metadata[ids]"
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.checkout.sessions.retrieve("cs_test_missing")
    assert err.value.http_status == 404
    assert err.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.retrieve("pi_missing")


@pytest.mark.parametrize("status", [500, 503])
def test_faults_make_the_sdk_raise(
    client: stripe.StripeClient, control: httpx.Client, status: int
) -> None:
    control.post("/_emulator/faults", json={"api_status": status, "count": 1}).raise_for_status()
    with pytest.raises(stripe.APIError) as err:
        client.v1.checkout.sessions.list()
    assert err.value.http_status == status
    assert client.v1.checkout.sessions.list().data == []  # only the next call failed


def test_sdk_retry_after_a_fault_creates_one_session(
    emulator_url: str, control: httpx.Client
) -> None:
    retrying = stripe.StripeClient(
        API_KEY, base_addresses={"api": emulator_url}, max_network_retries=2
    )
    control.post("/_emulator/faults", json={"api_status": 503, "count": 1}).raise_for_status()
    session = retrying.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": 700,
                        "product_data": {"name": "Stems"},
                    },
                    "quantity": 1,
                }
            ],
        }
    )
    assert session.currency == "eur"
    assert len(retrying.v1.checkout.sessions.list().data) == 1


def test_payment_intent_and_events_after_paying(
    client: stripe.StripeClient, control: httpx.Client, make_session: Callable[..., Any]
) -> None:
    session = make_session()
    control.post(
        f"/_emulator/checkout/sessions/{session.id}/complete", json={"outcome": "paid"}
    ).raise_for_status()
    paid = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["payment_intent.latest_charge"]}
    )
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    intent = paid.payment_intent
    assert intent.id.startswith("pi_")
    assert intent.status == "succeeded"
    assert intent.amount_received == session.amount_total
    assert intent.latest_charge.id.startswith("ch_")
    assert intent.latest_charge.paid is True
    same = client.v1.payment_intents.retrieve(intent.id)
    assert same.latest_charge == intent.latest_charge.id
    types = [e.type for e in client.v1.events.list(params={"type": "checkout.session.*"}).data]
    assert types == ["checkout.session.completed"]
    event = client.v1.events.list(params={"type": "checkout.session.completed"}).data[0]
    assert client.v1.events.retrieve(event.id).data.object.payment_status == "paid"
    future = int(time.time()) + 60
    assert client.v1.events.list(params={"created": {"gte": future}}).data == []
