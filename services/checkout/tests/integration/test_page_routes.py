"""The payment page's routes: documents and assets, config, the studio proxy, beats, quote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from checkout.bootstrap import build
from checkout.entrypoints.app import create_app
from devstack.devauth import DevAuth
from devstack.ports import free_port
from devstack.testing import ServedApp

from .conftest import ISSUER, Checkout, Reservations

pytestmark = pytest.mark.integration


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_pages_and_assets_are_served_with_a_strict_policy(checkout: Checkout) -> None:
    home = await checkout.http.get("/")
    assert home.status_code == 307
    assert home.headers["location"] == "/checkout"
    for path in ("/checkout", "/checkout?cancelled=1", "/checkout/success?session_id=cs_x"):
        page = await checkout.http.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "script-src 'self';" in page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
    script = await checkout.http.get("/checkout/assets/checkout.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert script.headers["cache-control"] == "no-cache"
    assert (await checkout.http.get("/checkout/assets/nope.js")).status_code == 404


async def test_config_says_no_dev_sign_in_outside_development(checkout: Checkout) -> None:
    response = await checkout.http.get("/api/config")
    assert response.json() == {
        "environment": "production",
        "devSignIn": False,
        "clerkPublishableKey": None,
        "clerkJsUrl": None,
    }


async def test_studio_catalog_and_booking_go_through_with_the_callers_token(
    checkout: Checkout, reservations: Reservations, dev_auth: DevAuth, unique: str
) -> None:
    services = await checkout.http.get("/api/studio/services")
    assert services.status_code == 200
    assert {s["id"] for s in services.json()} >= {"recording", "mixing", "mastering"}

    token = dev_auth.issue_token(f"user_{unique}", f"{unique}@example.com")
    # Within the booking horizon (365 days), on the hour, an hour no other test takes.
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(
        days=100, hours=int(unique, 16) % 4000
    )
    body = {"serviceId": "mastering", "startsAt": start.isoformat()}
    booked = await checkout.http.post("/api/studio/reservations", json=body, headers=_auth(token))
    assert booked.status_code == 201, booked.text
    reservation = booked.json()
    assert (reservation["status"], reservation["amount"]) == ("pending", 6000)

    again = await checkout.http.post("/api/studio/reservations", json=body, headers=_auth(token))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "slot_taken"  # the reservation API's own words

    mine = await checkout.http.get(
        f"/api/studio/reservations/{reservation['id']}", headers=_auth(token)
    )
    assert mine.json()["id"] == reservation["id"]
    stranger = dev_auth.issue_token(f"other_{unique}", "o@example.com")
    theirs = await checkout.http.get(
        f"/api/studio/reservations/{reservation['id']}", headers=_auth(stranger)
    )
    assert theirs.status_code == 404

    released = await checkout.http.delete(
        f"/api/studio/reservations/{reservation['id']}", headers=_auth(token)
    )
    assert released.json()["status"] == "cancelled"


async def test_studio_routes_need_a_valid_token(checkout: Checkout, unique: str) -> None:
    body = {"serviceId": "mixing", "startsAt": "2031-03-04T10:00:00+00:00"}
    assert (await checkout.http.post("/api/studio/reservations", json=body)).status_code == 401
    forged = DevAuth(checkout.tmp_path / "other", issuer=ISSUER).issue_token(f"u_{unique}", "a@b.c")
    response = await checkout.http.get("/api/studio/reservations/x", headers=_auth(forged))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_studio_proxy_says_so_when_the_reservation_api_is_down(
    checkout: Checkout, dev_auth: DevAuth, unique: str
) -> None:
    down = checkout.settings.model_copy(
        update={"reservation_api_url": f"http://127.0.0.1:{free_port()}"}
    )
    token = dev_auth.issue_token(f"user_{unique}", f"{unique}@example.com")
    async with (
        ServedApp(create_app(build(down, application_name="checkout-down"))) as served,
        httpx.AsyncClient(base_url=served.url, timeout=10) as http,
    ):
        for response in (
            await http.get("/api/studio/services"),
            await http.get("/api/studio/reservations/r1", headers=_auth(token)),
        ):
            assert response.status_code == 503
            error = response.json()["error"]
            assert (error["code"], error["retryable"]) == ("reservation_service_unavailable", True)


async def test_beats_and_quote_price_like_create(
    checkout: Checkout, reservations: Reservations, dev_auth: DevAuth, unique: str
) -> None:
    beats = (await checkout.http.get("/api/beats")).json()
    assert beats[0] == {
        "id": "beat_low_tide",
        "title": "Low Tide",
        "price": 1999,
        "currency": "eur",
    }
    assert [b["price"] for b in beats] == sorted(b["price"] for b in beats)

    token = dev_auth.issue_token(f"user_{unique}", f"{unique}@example.com")
    reservation = await reservations.book(token, "mixing")
    body = {
        "reservationIds": [reservation["id"]],
        "cartItemIds": ["beat_low_tide", "beat_low_tide"],
        "amount": 1,  # ignored, as by create
    }
    quote = await checkout.http.post("/api/checkout/quote", json=body, headers=_auth(token))
    assert quote.status_code == 200, quote.text
    priced = quote.json()
    assert (priced["servicesTotal"], priced["cartTotal"], priced["orderTotal"]) == (
        15000,
        1999,
        16999,
    )
    assert [(line["kind"], line["amount"]) for line in priced["lines"]] == [
        ("reservation", 15000),
        ("beat", 1999),
    ]
    assert priced["holdExpiresAt"] is not None
    assert await checkout.count("checkout_sessions") == 0  # a quote creates nothing

    created = await checkout.create(token, body)
    assert created.status_code == 200
    session = await checkout.http.get(
        f"/api/checkout-sessions/{created.json()['sessionId']}", headers=_auth(token)
    )
    assert session.json()["orderTotal"] == priced["orderTotal"]


async def test_quote_refuses_what_create_refuses(
    checkout: Checkout, dev_auth: DevAuth, unique: str
) -> None:
    token = dev_auth.issue_token(f"user_{unique}", f"{unique}@example.com")
    unknown = await checkout.http.post(
        "/api/checkout/quote", json={"cartItemIds": ["beat_nope"]}, headers=_auth(token)
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "cart_item_not_found"
    empty = await checkout.http.post("/api/checkout/quote", json={}, headers=_auth(token))
    assert empty.status_code == 422
    assert (await checkout.http.post("/api/checkout/quote", json={})).status_code == 401
