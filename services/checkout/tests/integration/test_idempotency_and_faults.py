"""One session per user and items; Stripe failing yields a retryable error and leaves no trace."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from backbone.settings import KafkaSettings
from checkout.bootstrap import build
from checkout.entrypoints.app import create_app
from devstack.devauth import DevAuth
from devstack.ports import free_port
from devstack.testing import ServedApp

from .conftest import Checkout, Emulator, Reservations
from .support import facts_for, published

pytestmark = pytest.mark.integration


async def test_the_same_request_twice_yields_one_session_and_one_fact(
    checkout: Checkout,
    reservations: Reservations,
    emulator: Emulator,
    dev_auth: DevAuth,
    kafka_settings: KafkaSettings,
    unique: str,
) -> None:
    user = f"user_{unique}"
    token = dev_auth.issue_token(user, f"{unique}@example.com")
    booked = await reservations.book(token, "mixing")
    body = {"reservationIds": [booked["id"]], "cartItemIds": ["beat_low_tide"]}

    # A double click: two requests in flight at once, then a retry with the items reordered.
    first, second = await asyncio.gather(checkout.create(token, body), checkout.create(token, body))
    reordered = {"cartItemIds": ["beat_low_tide"], "reservationIds": [booked["id"]] * 2}
    third = await checkout.create(token, reordered)

    assert first.status_code == second.status_code == third.status_code == 200
    assert first.json() == second.json() == third.json()
    assert len(await emulator.sessions()) == 1
    assert await checkout.count("checkout_sessions") == 1
    assert await checkout.count("outbox") == 1
    await published(kafka_settings, user, count=1)

    # Other items are another order: a second session.
    other = await checkout.create(token, {"cartItemIds": ["beat_low_tide"]})
    assert other.json()["sessionId"] != first.json()["sessionId"]
    await published(kafka_settings, user, count=2)


async def test_an_expired_session_is_replaced_by_a_new_one(
    checkout: Checkout,
    emulator: Emulator,
    dev_auth: DevAuth,
    unique: str,
) -> None:
    token = dev_auth.issue_token(f"user_{unique}", f"{unique}@example.com")
    body = {"cartItemIds": ["beat_neon_drift"]}
    first = (await checkout.create(token, body)).json()["sessionId"]
    expire = await emulator.http.post(
        f"/_emulator/checkout/sessions/{first}/complete", json={"outcome": "expired"}
    )
    expire.raise_for_status()

    again = await checkout.create(token, body)

    assert again.status_code == 200
    assert again.json()["sessionId"] != first
    assert await checkout.count("checkout_sessions") == 2
    view = await checkout.http.get(
        f"/api/checkout-sessions/{first}", headers={"Authorization": f"Bearer {token}"}
    )
    assert view.json()["status"] == "expired"


async def test_stripe_failing_is_a_retryable_error_and_nothing_is_recorded(
    checkout: Checkout,
    reservations: Reservations,
    emulator: Emulator,
    dev_auth: DevAuth,
    kafka_settings: KafkaSettings,
    unique: str,
) -> None:
    user = f"user_{unique}"
    token = dev_auth.issue_token(user, f"{unique}@example.com")
    booked = await reservations.book(token, "mixing")
    body = {"reservationIds": [booked["id"]]}

    await emulator.faults(503, count=100)
    failing = await checkout.create(token, body)
    await emulator.faults(429, count=100)
    limited = await checkout.create(token, body)
    await emulator.faults(None, count=100, delay_s=3)  # slower than our 2 s request bound
    slow = await checkout.create(token, body)
    await emulator.faults(None, count=0)

    assert failing.status_code == 502, failing.text
    assert failing.json()["error"]["code"] == "payment_provider_server_error"
    assert limited.status_code == 503, limited.text
    assert limited.json()["error"]["code"] == "payment_provider_rate_limited"
    assert slow.status_code == 504, slow.text
    assert slow.json()["error"]["code"] == "payment_provider_timeout"
    for response in (failing, limited, slow):
        assert response.json()["error"]["retryable"] is True
    assert await checkout.count("checkout_sessions") == 0
    assert await checkout.count("outbox") == 0
    # The slow attempts may have created sessions at Stripe that nobody got: never recorded,
    # never published, and the next request (same idempotency key) answers that same session.
    assert len(await emulator.sessions()) <= 1
    assert await facts_for(kafka_settings, user) == []

    # Stripe failing twice, then answering: the bounded retries see it through, once.
    await emulator.faults(500, count=2)
    recovered = await checkout.create(token, body)
    assert recovered.status_code == 200, recovered.text
    assert len(await emulator.sessions()) == 1
    assert await checkout.count("checkout_sessions") == 1
    await published(kafka_settings, user, count=1)


async def test_stripe_unreachable_is_503_and_nothing_is_recorded(
    checkout: Checkout,
    reservations: Reservations,
    dev_auth: DevAuth,
    kafka_settings: KafkaSettings,
    unique: str,
) -> None:
    user = f"user_{unique}"
    token = dev_auth.issue_token(user, f"{unique}@example.com")
    booked = await reservations.book(token, "mixing")
    settings = checkout.settings.model_copy(
        update={
            "stripe": checkout.settings.stripe.model_copy(
                update={"api_base": f"http://127.0.0.1:{free_port()}"}
            )
        }
    )
    async with (
        ServedApp(create_app(build(settings))) as down,
        httpx.AsyncClient(base_url=down.url, timeout=30) as http,
    ):
        response = await http.post(
            "/api/clerk/create-checkout-session",
            json={"reservationIds": [booked["id"]]},
            headers={"Authorization": f"Bearer {token}"},
        )

    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "payment_provider_unreachable"
    assert response.json()["error"]["retryable"] is True
    assert await checkout.count("checkout_sessions") == 0
    assert await checkout.count("outbox") == 0
    assert await facts_for(kafka_settings, user) == []
