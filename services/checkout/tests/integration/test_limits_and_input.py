"""Input checkout refuses by name (never a 500), the Stripe version it pins, what it forwards,
and how often polling a session reaches Stripe."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from checkout.adapters.stripe_gateway import StripeGateway
from checkout.settings import StripeSettings
from contracts.stripe import STRIPE_API_VERSION
from devstack.devauth import DevAuth

from .conftest import API_KEY, Checkout, Emulator, Reservations

pytestmark = pytest.mark.integration


async def test_fourteen_reservations_are_a_422_naming_stripes_limit(
    checkout: Checkout,
    reservations: Reservations,
    emulator: Emulator,
    dev_auth: DevAuth,
    unique: str,
) -> None:
    user, email = f"user_{unique}", f"{unique}@example.com"
    token = dev_auth.issue_token(user, email)
    ids = [await reservations.book_direct(user, email) for _ in range(14)]

    response = await checkout.create(token, {"reservationIds": ids})

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "too_many_items"
    assert error["field"] == "reservation_ids"
    assert "500-character" in error["message"]
    assert error["retryable"] is False
    assert emulator.calls("POST", "/v1/checkout/sessions") == 0
    # Thirteen fit in Stripe's metadata.
    fitting = await checkout.create(token, {"reservationIds": ids[:13]})
    assert fitting.status_code == 200, fitting.text


HOSTILE: list[Any] = [
    {"reservationIds": ["a,b"]},
    {"reservationIds": ["../../api/reservations"]},
    {"reservationIds": ["x" * 10_000]},
    {"reservationIds": [None]},
    {"reservationIds": [{"$ne": 1}]},
    {"reservationIds": "r1"},
    {"reservationIds": ["r"] * 21},
    {"cartItemIds": ["beat_low_tide\r\nX-Injected: 1"]},
    {"cartItemIds": ["beat_low_tide"], "email": "a@b.c\r\nBcc: victim@example.com"},
    {"cartItemIds": ["beat_low_tide"], "email": "x" * 400 + "@example.com"},
    {"cartItemIds": ["beat_low_tide"], "email": "not an address"},
    {"cartItemIds": [""]},
    [],
    "[]",
    None,
]


async def test_hostile_bodies_are_a_422_naming_the_field(
    checkout: Checkout, dev_auth: DevAuth, unique: str
) -> None:
    # A token without an e-mail claim (this fixture is production-shaped: a typed e-mail is
    # refused there too, naming the field).
    token = dev_auth.issue_token(f"user_{unique}", None)

    for body in HOSTILE:
        for path in ("/api/clerk/create-checkout-session", "/api/checkout/quote"):
            response = await checkout.http.post(
                path, json=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 422, (body, path, response.text)
            error = response.json()["error"]
            assert error["retryable"] is False
            assert error.get("fields") or error.get("field"), error
    # A NUL is not text at all: the body is refused as malformed before any field is read.
    for path in ("/api/clerk/create-checkout-session", "/api/checkout/quote"):
        response = await checkout.http.post(
            path, json={"cartItemIds": ["\u0000"]}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_json"


async def test_stripe_version_is_pinned_on_every_call(
    checkout: Checkout,
    reservations: Reservations,
    emulator: Emulator,
    dev_auth: DevAuth,
    unique: str,
) -> None:
    token = dev_auth.issue_token(f"user_{unique}", f"{unique}@example.com")
    booked = await reservations.book(token, "mixing")
    response = await checkout.create(token, {"reservationIds": [booked["id"]]})
    assert response.status_code == 200, response.text
    assert {s.stripe_version for s in emulator.seen} == {STRIPE_API_VERSION}

    # Another pinned version is what is sent, whatever the SDK's own default is.
    emulator.seen.clear()
    gateway = StripeGateway(
        StripeSettings(
            api_key=SecretStr(API_KEY), api_base=emulator.url, api_version="2025-03-31.basil"
        )
    )
    session_id = response.json()["sessionId"]
    await gateway.retrieve_session(session_id)
    await gateway.expire_session(session_id)
    assert [s.stripe_version for s in emulator.seen] == ["2025-03-31.basil"] * 2


async def test_an_encoded_dot_segment_is_not_forwarded(
    checkout: Checkout, reservations: Reservations, dev_auth: DevAuth, unique: str
) -> None:
    token = dev_auth.issue_token(f"user_{unique}", f"{unique}@example.com")
    await reservations.book(token, "mixing")
    headers = {"Authorization": f"Bearer {token}"}

    for path in ("%2E", "%2e", "%2E%2E", ".%2E", "%2E%2E%2Fservices"):
        got = await checkout.http.get(f"/api/studio/reservations/{path}", headers=headers)
        assert got.status_code == 404, (path, got.text)
        gone = await checkout.http.delete(f"/api/studio/reservations/{path}", headers=headers)
        assert gone.status_code == 404, (path, gone.text)


async def test_polling_a_session_does_not_call_stripe_per_poll(
    checkout: Checkout,
    reservations: Reservations,
    emulator: Emulator,
    dev_auth: DevAuth,
    unique: str,
) -> None:
    token = dev_auth.issue_token(f"user_{unique}", f"{unique}@example.com")
    booked = await reservations.book(token, "mixing")
    created = await checkout.create(token, {"reservationIds": [booked["id"]]})
    assert created.status_code == 200, created.text
    session_id = created.json()["sessionId"]
    path = f"/v1/checkout/sessions/{session_id}"

    for _ in range(8):
        view = await checkout.http.get(
            f"/api/checkout-sessions/{session_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert view.status_code == 200, view.text
        assert view.json()["status"] == "open"

    # The default lifetime is seconds: a loaded machine may cross it once, never eight times.
    assert emulator.calls("GET", path) <= 2
