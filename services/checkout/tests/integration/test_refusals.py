"""Requests refused before Stripe is asked: auth, ownership, state, unknown items, empty body."""

from __future__ import annotations

import pytest

from devstack.devauth import DevAuth

from .conftest import ISSUER, Checkout, Emulator, Reservations

pytestmark = pytest.mark.integration


async def assert_nothing_created(checkout: Checkout, emulator: Emulator) -> None:
    assert await checkout.count("checkout_sessions") == 0
    assert await checkout.count("outbox") == 0
    assert await emulator.sessions() == []


async def test_no_token_or_a_bad_one_is_401(
    checkout: Checkout, emulator: Emulator, dev_auth: DevAuth, tmp_path: object, unique: str
) -> None:
    body = {"cartItemIds": ["beat_low_tide"]}
    missing = await checkout.create(None, body)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "missing_token"
    assert missing.headers["www-authenticate"] == "Bearer"

    expired = await checkout.create(dev_auth.issue_token(f"u_{unique}", "a@b.test", ttl=-600), body)
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "token_expired"

    other_key = DevAuth(checkout.tmp_path / "other-key", issuer=ISSUER)
    forged = await checkout.create(other_key.issue_token(f"u_{unique}", "a@b.test"), body)
    assert forged.status_code == 401
    assert forged.json()["error"] == {
        "code": "invalid_token",
        "message": forged.json()["error"]["message"],
        "retryable": False,
    }
    await assert_nothing_created(checkout, emulator)


async def test_empty_request_is_422(
    checkout: Checkout, emulator: Emulator, dev_auth: DevAuth, unique: str
) -> None:
    token = dev_auth.issue_token(f"user_{unique}", f"{unique}@example.com")
    for body in ({}, {"reservationIds": [], "cartItemIds": []}, {"cartItemIds": [" "]}):
        response = await checkout.create(token, body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "empty_order"
        assert response.json()["error"]["retryable"] is False
    malformed = await checkout.create(token, {"reservationIds": "not-a-list"})
    assert malformed.status_code == 422
    assert malformed.json()["error"]["fields"][0]["field"] == "reservationIds"
    await assert_nothing_created(checkout, emulator)


async def test_another_users_reservation_is_refused(
    checkout: Checkout,
    reservations: Reservations,
    emulator: Emulator,
    dev_auth: DevAuth,
    unique: str,
) -> None:
    owner = dev_auth.issue_token(f"owner_{unique}", f"owner_{unique}@example.com")
    thief = dev_auth.issue_token(f"thief_{unique}", f"thief_{unique}@example.com")
    booked = await reservations.book(owner, "mixing")

    response = await checkout.create(thief, {"reservationIds": [booked["id"]]})

    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["code"] == "reservation_not_found"
    assert error["reservation_id"] == booked["id"]
    assert booked["id"] in error["message"]
    await assert_nothing_created(checkout, emulator)


async def test_unknown_reservation_and_unknown_beat_are_named(
    checkout: Checkout,
    reservations: Reservations,
    emulator: Emulator,
    dev_auth: DevAuth,
    unique: str,
) -> None:
    token = dev_auth.issue_token(f"user_{unique}", f"{unique}@example.com")
    booked = await reservations.book(token, "mixing")

    unknown = await checkout.create(token, {"reservationIds": [booked["id"], "no-such-id"]})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["reservation_id"] == "no-such-id"

    beat = await checkout.create(
        token, {"reservationIds": [booked["id"]], "cartItemIds": ["beat_low_tide", "beat_nope"]}
    )
    assert beat.status_code == 404
    assert beat.json()["error"]["code"] == "cart_item_not_found"
    assert beat.json()["error"]["cart_item_id"] == "beat_nope"
    await assert_nothing_created(checkout, emulator)


async def test_lapsed_or_paid_reservations_are_refused(
    checkout: Checkout,
    reservations: Reservations,
    emulator: Emulator,
    dev_auth: DevAuth,
    unique: str,
) -> None:
    user = f"user_{unique}"
    token = dev_auth.issue_token(user, f"{unique}@example.com")
    lapsed = await reservations.book_lapsed(user, f"{unique}@example.com")
    paid = await reservations.book(token, "mixing")
    await reservations.set_status(paid["id"], "succeeded")
    fine = await reservations.book(token, "recording", days=5)

    expired = await checkout.create(token, {"reservationIds": [fine["id"], lapsed]})
    assert expired.status_code == 409, expired.text
    assert expired.json()["error"]["reservation_id"] == lapsed
    assert "expired" in expired.json()["error"]["message"]

    already = await checkout.create(token, {"reservationIds": [paid["id"]]})
    assert already.status_code == 409
    assert already.json()["error"]["reservation_id"] == paid["id"]
    assert "succeeded" in already.json()["error"]["message"]
    await assert_nothing_created(checkout, emulator)


async def test_stripe_validation_errors_are_4xx_with_stripes_message(
    checkout: Checkout, emulator: Emulator, dev_auth: DevAuth, unique: str
) -> None:
    await checkout.add_beat(f"beat_{unique}", "Too cheap to sell", 10)
    token = dev_auth.issue_token(f"user_{unique}", f"{unique}@example.com")

    response = await checkout.create(token, {"cartItemIds": [f"beat_{unique}"]})

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "amount_too_small"
    assert "at least 50" in error["message"]
    assert error["retryable"] is False
    await assert_nothing_created(checkout, emulator)


async def test_other_users_session_is_not_found(
    checkout: Checkout, dev_auth: DevAuth, unique: str
) -> None:
    token = dev_auth.issue_token(f"user_{unique}", f"{unique}@example.com")
    created = await checkout.create(token, {"cartItemIds": ["beat_low_tide"]})
    session_id = created.json()["sessionId"]
    other = dev_auth.issue_token(f"other_{unique}", f"other_{unique}@example.com")

    response = await checkout.http.get(
        f"/api/checkout-sessions/{session_id}", headers={"Authorization": f"Bearer {other}"}
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "session_not_found"


async def test_cors_admits_only_the_configured_frontend(checkout: Checkout) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    allowed = await checkout.http.options(
        "/api/clerk/create-checkout-session",
        headers={"Origin": "https://studio.example", **preflight},
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://studio.example"
    assert "access-control-allow-credentials" not in allowed.headers

    refused = await checkout.http.options(
        "/api/clerk/create-checkout-session",
        headers={"Origin": "https://evil.example", **preflight},
    )
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


async def test_large_or_deep_bodies_are_refused_before_authentication(
    checkout: Checkout, emulator: Emulator
) -> None:
    path = "/api/clerk/create-checkout-session"
    large = await checkout.http.post(path, content=b"{" + b" " * 70_000 + b"}")
    assert large.status_code == 413, large.text
    assert large.json()["error"]["code"] == "body_too_large"
    deep = b'{"cartItemIds": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"
    nested = await checkout.http.post(
        path, content=deep, headers={"content-type": "application/json"}
    )
    assert nested.status_code == 400, nested.text
    assert nested.json()["error"]["code"] == "body_too_deep"
    await assert_nothing_created(checkout, emulator)
