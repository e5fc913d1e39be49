"""The hold a user sees is the truth: while a Stripe page is open, until when it really is held."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from contracts import stripe as s
from reservation.bootstrap import Container

from ..conftest import checkout_fact, checkout_message, stripe_event, stripe_message

pytestmark = pytest.mark.integration


def _within_the_horizon() -> str:
    """A slot on the grid, inside the booking horizon (365 days), that no other test books."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(
        days=100, hours=secrets.randbelow(4000)
    )
    return start.isoformat()


async def test_an_open_stripe_page_extends_the_hold_the_api_shows(
    api_url: str, container: Container, token: Callable[..., str]
) -> None:
    me = {"Authorization": f"Bearer {token('user_hold')}"}
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as http:
        made = await http.post(
            "/api/reservations",
            json={"service_id": "mastering", "starts_at": _within_the_horizon()},
            headers=me,
        )
        assert made.status_code == 201, made.text
        body = made.json()
        hold = datetime.fromisoformat(body["hold_expires_at"])
        async with container.uow() as uow:
            reservation = await uow.repo.get(body["id"])
        assert reservation is not None
        # Stripe's page lasts at least 30 minutes: here it outlives the hold by 25.
        page_closes = (hold + timedelta(minutes=25)).replace(microsecond=0)
        sid = "cs_test_hold_truth_" + body["id"][:8]
        fact = checkout_fact(sid, [reservation]).model_copy(update={"expires_at": page_closes})
        await container.batch_handler([checkout_message(fact)])

        seen = (await http.get(f"/api/reservations/{body['id']}", headers=me)).json()
        assert seen["status"] == "processing"
        assert datetime.fromisoformat(seen["hold_expires_at"]) == page_closes
        [listed] = (await http.get("/api/reservations", headers=me)).json()
        assert datetime.fromisoformat(listed["hold_expires_at"]) == page_closes

        # The page closed unpaid within the hold: the hold itself is the truth again.
        expired = stripe_event(s.CHECKOUT_SESSION_EXPIRED, sid, [reservation])
        await container.batch_handler([stripe_message(expired)])
        seen = (await http.get(f"/api/reservations/{body['id']}", headers=me)).json()
        assert seen["status"] == "pending"
        assert datetime.fromisoformat(seen["hold_expires_at"]) == hold
