"""Creating sessions: reservation-only, mixed cart and beats-only, priced only from our records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backbone.settings import KafkaSettings
from contracts import headers as h
from contracts.checkout import ReservationCheckoutMetadata
from devstack.devauth import DevAuth

from .conftest import Checkout, Emulator, Reservations
from .support import published

pytestmark = pytest.mark.integration


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

    [record] = await published(kafka_settings, user)
    fact = record.fact
    assert record.key == body["sessionId"].encode()
    # Stripe's own creation time: the reservation worker orders sessions by it.
    assert fact.occurred_at.timestamp() == session["created"]
    assert record.message.header(h.EVENT_ID) == str(fact.event_id)
    assert fact.session_id == body["sessionId"]
    assert fact.checkout_type == "reservation_payment"
    assert fact.reservation_ids == [booked["id"]]
    assert fact.cart_items == []
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


async def test_mixed_cart_session(
    checkout: Checkout,
    reservations: Reservations,
    emulator: Emulator,
    dev_auth: DevAuth,
    kafka_settings: KafkaSettings,
    unique: str,
) -> None:
    user = f"user_{unique}"
    token = dev_auth.issue_token(user, f"{unique}@example.com")
    mixing = await reservations.book(token, "mixing")
    recording = await reservations.book(token, "recording", days=4)
    beats = ["beat_neon_drift", "beat_midnight_tape"]

    response = await checkout.create(
        token,
        {"reservationIds": [recording["id"], mixing["id"]], "cartItemIds": beats},
        path="/api/reservation-payments/checkout-session",
    )

    assert response.status_code == 200, response.text
    session = await emulator.session(response.json()["sessionId"])
    services_total = 15000 + 12000
    cart_total = 3499 + 2999
    assert session["amount_total"] == services_total + cart_total
    metadata = ReservationCheckoutMetadata.from_stripe_metadata(session["metadata"])
    assert metadata.checkout_type == "mixed_cart"
    assert sorted(metadata.reservation_ids) == sorted([mixing["id"], recording["id"]])
    assert sorted(metadata.cart_item_ids) == sorted(beats)
    assert (metadata.services_count, metadata.services_total) == (2, services_total)
    assert (metadata.cart_count, metadata.cart_total) == (2, cart_total)
    assert metadata.order_total == services_total + cart_total
    # The session expires no later than the earliest of the two holds.
    earliest = min(
        datetime.fromisoformat(mixing["hold_expires_at"]),
        datetime.fromisoformat(recording["hold_expires_at"]),
    )
    assert session["expires_at"] <= earliest.timestamp()

    [record] = await published(kafka_settings, user)
    assert record.fact.checkout_type == "mixed_cart"
    assert (record.fact.services_total, record.fact.cart_total) == (services_total, cart_total)
    assert record.fact.order_total == session["amount_total"]
    assert [(i.item_id, i.title, i.price) for i in record.fact.cart_items] == [
        ("beat_midnight_tape", "Midnight Tape", 2999),
        ("beat_neon_drift", "Neon Drift", 3499),
    ]


async def test_beats_only_session(
    checkout: Checkout,
    emulator: Emulator,
    dev_auth: DevAuth,
    kafka_settings: KafkaSettings,
    unique: str,
) -> None:
    user = f"user_{unique}"
    token = dev_auth.issue_token(user, f"{unique}@example.com")

    response = await checkout.create(token, {"cartItemIds": ["beat_low_tide"]})

    assert response.status_code == 200, response.text
    session = await emulator.session(response.json()["sessionId"])
    assert session["amount_total"] == 1999
    metadata = ReservationCheckoutMetadata.from_stripe_metadata(session["metadata"])
    assert metadata.checkout_type == "beats_only"
    assert metadata.reservation_ids == []
    assert metadata.cart_item_ids == ["beat_low_tide"]
    assert (metadata.services_count, metadata.services_total) == (0, 0)
    assert (metadata.cart_count, metadata.cart_total, metadata.order_total) == (1, 1999, 1999)
    assert metadata.description == "Beat: Low Tide"
    [record] = await published(kafka_settings, user)
    assert record.fact.checkout_type == "beats_only"
    assert record.fact.cart_item_ids == ["beat_low_tide"]
    [item] = record.fact.cart_items
    assert (item.item_id, item.title, item.price) == ("beat_low_tide", "Low Tide", 1999)


async def test_amounts_in_the_request_have_no_effect(
    checkout: Checkout,
    reservations: Reservations,
    emulator: Emulator,
    dev_auth: DevAuth,
    unique: str,
) -> None:
    token = dev_auth.issue_token(f"user_{unique}", f"{unique}@example.com")
    booked = await reservations.book(token, "mixing")

    response = await checkout.create(
        token,
        {
            "reservationIds": [booked["id"]],
            "cartItemIds": ["beat_gold_rush"],
            "amount": 100,
            "total": 100,
            "orderTotal": 100,
            "price": 1,
            "currency": "jpy",
            "items": [{"id": "beat_gold_rush", "price": 1}],
            "servicesTotal": 1,
        },
    )

    assert response.status_code == 200, response.text
    session = await emulator.session(response.json()["sessionId"])
    assert session["amount_total"] == 15000 + 4999
    assert session["currency"] == "eur"
    metadata = ReservationCheckoutMetadata.from_stripe_metadata(session["metadata"])
    assert (metadata.services_total, metadata.cart_total) == (15000, 4999)


async def test_a_hold_shorter_than_stripes_minimum_gets_the_minimum(
    checkout: Checkout,
    reservations: Reservations,
    emulator: Emulator,
    dev_auth: DevAuth,
    unique: str,
) -> None:
    """Stripe refuses expires_at under 30 min ahead: the session gets the floor, not a refusal."""
    user = f"user_{unique}"
    token = dev_auth.issue_token(user, f"{unique}@example.com")
    booked = await reservations.book(token, "mastering")
    soon = datetime.now(UTC) + timedelta(minutes=10)
    await reservations.set_hold(booked["id"], soon)

    response = await checkout.create(token, {"reservationIds": [booked["id"]]})

    assert response.status_code == 200, response.text
    session = await emulator.session(response.json()["sessionId"])
    lifetime = session["expires_at"] - session["created"]
    assert 30 * 60 < lifetime <= 33 * 60
