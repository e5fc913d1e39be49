"""Creating sessions: reservation-only, mixed cart and beats-only, priced only from our records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backbone.settings import KafkaSettings
from contracts import headers as h
from contracts.checkout import CheckoutSessionCreatedV1, ReservationCheckoutMetadata
from contracts.topics import CHECKOUT_SESSIONS
from devstack.devauth import DevAuth
from devstack.testing import eventually, read_topic

from .conftest import Checkout, Emulator, Reservations

pytestmark = pytest.mark.integration


async def facts_for(kafka: KafkaSettings, user_id: str) -> list[tuple[bytes | None, Any]]:
    """(key, fact) of every CheckoutSessionCreatedV1 on the topic for `user_id`."""
    found = []
    for message in await read_topic(kafka, CHECKOUT_SESSIONS):
        fact = CheckoutSessionCreatedV1.model_validate_json(message.value or b"{}")
        if fact.user_id == user_id:
            found.append((message.key, fact, message))
    return found


async def one_fact(kafka: KafkaSettings, user_id: str) -> tuple[Any, Any]:
    """The single fact published for `user_id` (waits for the relay)."""

    async def probe() -> list[Any]:
        return await facts_for(kafka, user_id)

    found = await eventually(probe, timeout=15, what=f"a fact for {user_id}")
    assert len(found) == 1, found
    key, fact, message = found[0]
    return key, fact


async def test_reservation_only_session(
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

    response = await checkout.create(token, {"reservationIds": [booked["id"]]})

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"sessionId", "url"}
    session = await emulator.session(body["sessionId"])
    assert session["url"] == body["url"]
    assert session["mode"] == "payment"
    assert session["amount_total"] == booked["amount"] == 15000
    assert session["currency"] == "eur"
    assert session["client_reference_id"] == user
    assert "{CHECKOUT_SESSION_ID}" in session["success_url"]
    assert session["cancel_url"]
    hold = datetime.fromisoformat(booked["hold_expires_at"])
    assert session["expires_at"] <= hold.timestamp()
    assert session["expires_at"] >= (datetime.now(UTC) + timedelta(minutes=30)).timestamp()
    metadata = ReservationCheckoutMetadata.from_stripe_metadata(session["metadata"])
    assert metadata.checkout_type == "reservation_payment"
    assert metadata.reservation_ids == [booked["id"]]
    assert metadata.cart_item_ids == []
    assert (metadata.services_count, metadata.services_total) == (1, 15000)
    assert (metadata.cart_count, metadata.cart_total, metadata.order_total) == (0, 0, 15000)
    assert metadata.user_id == user
    assert metadata.user_email == f"{unique}@example.com"

    key, fact = await one_fact(kafka_settings, user)
    assert key == body["sessionId"].encode()
    assert fact.session_id == body["sessionId"]
    assert fact.checkout_type == "reservation_payment"
    assert fact.reservation_ids == [booked["id"]]
    assert (fact.services_total, fact.cart_total, fact.order_total) == (15000, 0, 15000)
    assert fact.url == body["url"]
    assert int(fact.expires_at.timestamp()) == session["expires_at"]

    view = await checkout.http.get(
        f"/api/checkout-sessions/{body['sessionId']}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert view.status_code == 200, view.text
    assert view.json()["status"] == "open"
    assert view.json()["orderTotal"] == 15000
