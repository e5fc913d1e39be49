"""Booking quotas per user (429 with Retry-After) and where confirmations go in production."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from devstack.testing import ServedApp
from reservation.bootstrap import Container
from reservation.entrypoints.app import create_app

pytestmark = pytest.mark.integration


def _slot(hours: int) -> str:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=150)
    return (start + timedelta(hours=hours)).isoformat()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _served(container: Container, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    changed = dataclasses.replace(
        container, settings=container.settings.model_copy(update=settings)
    )
    async with (
        ServedApp(create_app(changed)) as served,
        httpx.AsyncClient(base_url=served.url, timeout=15) as client,
    ):
        yield client


@pytest.fixture
async def limited(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _served(container, max_live_holds=2, max_bookings_per_window=3):
        yield client


@pytest.fixture
async def production(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _served(container, environment="production"):
        yield client


@pytest.fixture
async def development(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _served(container, environment="development"):
        yield client


async def test_live_holds_and_booking_rate_are_capped_per_user(
    limited: httpx.AsyncClient, token: Callable[..., str], unique: str
) -> None:
    me = _auth(token(f"hoarder_{unique}"))
    slots = iter(range(0, 400, 4))

    async def book() -> httpx.Response:
        body = {"service_id": "mixing", "starts_at": _slot(next(slots) + int(unique, 16) % 4000)}
        return await limited.post("/api/reservations", json=body, headers=me)

    first, second = await book(), await book()
    assert (first.status_code, second.status_code) == (201, 201), first.text
    third = await book()
    assert third.status_code == 429, third.text
    assert third.json()["error"]["code"] == "too_many_holds"
    assert 0 < int(third.headers["retry-after"]) <= 30 * 60

    # Another user is not limited by this one's holds.
    other = await limited.post(
        "/api/reservations",
        json={"service_id": "mixing", "starts_at": _slot(next(slots) + int(unique, 16) % 4000)},
        headers=_auth(token(f"other_{unique}")),
    )
    assert other.status_code == 201, other.text

    # Cancelling frees a hold, but book-and-cancel in a loop meets the rate limit.
    await limited.delete(f"/api/reservations/{first.json()['id']}", headers=me)
    assert (await book()).status_code == 201
    await limited.delete(f"/api/reservations/{second.json()['id']}", headers=me)
    limited_rate = await book()
    assert limited_rate.status_code == 429, limited_rate.text
    assert limited_rate.json()["error"]["code"] == "booking_rate_limited"
    assert 3000 < int(limited_rate.headers["retry-after"]) <= 3600


async def test_in_production_only_the_token_email_receives_confirmations(
    production: httpx.AsyncClient, token: Callable[..., str], unique: str
) -> None:
    body = {"service_id": "mastering", "starts_at": _slot(int(unique, 16) % 4000)}
    typed = {**body, "email": "victim@example.com"}
    without_claim = await production.post(
        "/api/reservations", json=typed, headers=_auth(token(f"u_{unique}", email=None))
    )
    assert without_claim.status_code == 422
    assert without_claim.json()["error"]["field"] == "email"
    other_address = await production.post(
        "/api/reservations", json=typed, headers=_auth(token(f"u_{unique}", email="me@ex.io"))
    )
    assert other_address.status_code == 422
    assert other_address.json()["error"]["field"] == "email"
    booked = await production.post(
        "/api/reservations", json=body, headers=_auth(token(f"u_{unique}", email="me@ex.io"))
    )
    assert booked.status_code == 201, booked.text


async def test_in_development_a_typed_email_stands_in_for_a_missing_claim(
    development: httpx.AsyncClient, token: Callable[..., str], unique: str
) -> None:
    no_email = _auth(token(f"c_{unique}", email=None))
    body = {"service_id": "mastering", "starts_at": _slot(int(unique, 16) % 4000)}
    refused = await development.post("/api/reservations", json=body, headers=no_email)
    assert refused.json()["error"]["field"] == "email"
    body["email"] = "c@example.com"
    assert (
        await development.post("/api/reservations", json=body, headers=no_email)
    ).status_code == 201
