"""The API over real HTTP: booking, conflicts, validation, ownership, cancelling, payability."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def _slot(days: int = 40, hour: int = 10) -> str:
    day = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return (day + timedelta(days=days)).isoformat()


@pytest.fixture
async def http(api_url: str) -> Any:
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as client:
        yield client


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_catalog_and_probes(http: httpx.AsyncClient) -> None:
    services = (await http.get("/api/services")).json()
    assert {s["id"] for s in services} == {"recording", "mixing", "mastering"}
    assert all(isinstance(s["price"], int) and s["currency"] == "eur" for s in services)
    assert (await http.get("/healthz")).status_code == 200
    assert (await http.get("/readyz")).status_code == 200
    assert "reservation_bookings_total" in (await http.get("/metrics")).text


async def test_book_read_list_cancel(http: httpx.AsyncClient, token: Callable[..., str]) -> None:
    me = _auth(token("user_a"))
    starts = _slot()
    made = await http.post(
        "/api/reservations", json={"service_id": "mixing", "starts_at": starts}, headers=me
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["status"] == "pending"
    assert body["amount"] == 15000
    assert body["currency"] == "eur"
    assert body["payment"] is None
    hold = datetime.fromisoformat(body["hold_expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=29) < hold <= timedelta(minutes=30)
    got = await http.get(f"/api/reservations/{body['id']}", headers=me)
    assert got.json() == body
    listed = (await http.get("/api/reservations", headers=me)).json()
    assert [r["id"] for r in listed] == [body["id"]]

    # Another user sees neither the reservation nor its cancellation.
    other = _auth(token("user_b"))
    assert (await http.get(f"/api/reservations/{body['id']}", headers=other)).status_code == 404
    assert (await http.delete(f"/api/reservations/{body['id']}", headers=other)).status_code == 404
    assert (await http.get("/api/reservations", headers=other)).json() == []

    # The slot is taken until cancelled, then free again.
    taken = await http.post(
        "/api/reservations", json={"service_id": "mixing", "starts_at": starts}, headers=other
    )
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "slot_taken"
    assert "control-room" in taken.json()["error"]["message"]
    cancelled = await http.delete(f"/api/reservations/{body['id']}", headers=me)
    assert cancelled.json()["status"] == "cancelled"
    again = await http.post(
        "/api/reservations", json={"service_id": "mixing", "starts_at": starts}, headers=other
    )
    assert again.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"service_id": "karaoke", "starts_at": _slot()}, "service_id"),
        ({"service_id": "mixing", "starts_at": "2020-01-01T10:00:00Z"}, "starts_at"),
        ({"service_id": "mixing", "starts_at": "next tuesday"}, "starts_at"),
        ({"service_id": "mixing", "starts_at": "2031-01-01T10:00:00"}, "starts_at"),
        ({"starts_at": _slot()}, "service_id"),
        ({"service_id": "mixing", "starts_at": _slot(), "amount": 1}, "amount"),
        # Out of range: past the 365-day horizon, off the 15-minute grid, dates that overflow.
        ({"service_id": "mixing", "starts_at": _slot(days=400)}, "starts_at"),
        ({"service_id": "mixing", "starts_at": _slot()[:14] + "07:00+00:00"}, "starts_at"),
        ({"service_id": "mixing", "starts_at": "9999-12-31T23:00:00Z"}, "starts_at"),
        ({"service_id": "mixing", "starts_at": "9999-12-31T23:00:00-05:00"}, "starts_at"),
        ({"service_id": "mixing", "starts_at": "0001-01-01T00:00:00+14:00"}, "starts_at"),
        ({"service_id": "mixing", "starts_at": _slot(), "email": "a" * 320 + "@x.io"}, "email"),
        ({"service_id": "mixing", "starts_at": _slot(), "email": "a@x.io\r\nBcc: v@x.io"}, "email"),
    ],
)
async def test_bad_input_names_the_field(
    http: httpx.AsyncClient, token: Callable[..., str], body: dict[str, Any], field: str
) -> None:
    response = await http.post("/api/reservations", json=body, headers=_auth(token()))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert error["retryable"] is False
    assert field in error["message"]


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Basic abc"])
async def test_unauthenticated(http: httpx.AsyncClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = await http.get("/api/reservations", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] in ("missing_token", "invalid_token")


async def test_expired_token(http: httpx.AsyncClient, token: Callable[..., str]) -> None:
    response = await http.get("/api/reservations", headers=_auth(token(ttl=-120)))
    assert response.json()["error"]["code"] == "token_expired"


async def test_concurrent_bookings_of_one_slot_exactly_one_wins(
    http: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    body = {"service_id": "recording", "starts_at": _slot(days=50, hour=14)}
    responses = await asyncio.gather(
        *(
            http.post("/api/reservations", json=body, headers=_auth(token(f"racer_{i}")))
            for i in range(12)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 11, [r.text for r in responses]


async def test_payable_for_checkout(http: httpx.AsyncClient, token: Callable[..., str]) -> None:
    me = _auth(token("user_p"))
    ids = []
    for service, day in (("mixing", 60), ("mastering", 61)):
        made = await http.post(
            "/api/reservations", json={"service_id": service, "starts_at": _slot(day)}, headers=me
        )
        ids.append(made.json()["id"])
    ok = await http.post("/api/reservations/payable", json={"reservation_ids": ids}, headers=me)
    assert ok.status_code == 200
    assert ok.json()["total"] == 15000 + 6000
    other = await http.post(
        "/api/reservations/payable", json={"reservation_ids": ids}, headers=_auth(token("x"))
    )
    assert other.status_code == 404
    assert other.json()["error"]["reservation_id"] == ids[0]
    await http.delete(f"/api/reservations/{ids[1]}", headers=me)
    gone = await http.post("/api/reservations/payable", json={"reservation_ids": ids}, headers=me)
    assert gone.status_code == 409
    assert gone.json()["error"]["reservation_id"] == ids[1]
    empty = await http.post("/api/reservations/payable", json={"reservation_ids": []}, headers=me)
    assert empty.status_code == 422


async def test_large_or_deep_bodies_are_refused_before_authentication(
    http: httpx.AsyncClient,
) -> None:
    large = await http.post("/api/reservations", content=b"{" + b" " * 70_000 + b"}")
    assert large.status_code == 413, large.text
    assert large.json()["error"]["code"] == "body_too_large"
    deep = b'{"service_id": "mixing", "x": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"
    nested = await http.post(
        "/api/reservations/payable", content=deep, headers={"content-type": "application/json"}
    )
    assert nested.status_code == 400, nested.text
    assert nested.json()["error"]["code"] == "body_too_deep"
