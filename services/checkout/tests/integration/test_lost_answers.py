"""Stripe answers that never arrive, or arrive as a stored 5xx, still end on one payment page.

These drive the emulator as CONTRACTS.md describes it: a delay-only fault carries the request out
and then holds the answer (our client times out: the "lost answer"), and `after_execute` stores a
5xx under the Idempotency-Key and replays it, as Stripe does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devstack.devauth import DevAuth

from .conftest import Checkout, Emulator, Reservations

pytestmark = pytest.mark.integration

SESSIONS = "/v1/checkout/sessions"


async def test_retry_after_a_lost_answer_gets_the_session_even_a_minute_later(
    checkout: Checkout,
    reservations: Reservations,
    emulator: Emulator,
    dev_auth: DevAuth,
    unique: str,
) -> None:
    """The retry sends the stored parameters (expires_at included), not freshly computed ones."""
    token = dev_auth.issue_token(f"user_{unique}", f"{unique}@example.com")
    booked = await reservations.book(token, "mixing")
    # A hold shorter than Stripe's 30 minutes: expires_at follows the clock, minute by minute.
    await reservations.set_hold(booked["id"], datetime.now(UTC) + timedelta(minutes=10))
    # Every attempt of the first request is carried out but answered after our 2 s timeout.
    await emulator.faults(None, 3, delay_s=3.0, path_prefix=SESSIONS)

    first = await checkout.create(token, {"reservationIds": [booked["id"]]})
    assert first.status_code in (409, 504), first.text
    assert first.json()["error"]["retryable"] is True

    # The user tries again a few minutes later (Stripe keeps the key for 24 h).
    checkout.container.checkout.clock = lambda: datetime.now(UTC) + timedelta(minutes=3)
    retry = await checkout.create(token, {"reservationIds": [booked["id"]]})

    assert retry.status_code == 200, retry.text
    [made] = await emulator.sessions()
    assert retry.json()["sessionId"] == made["id"]
    assert made["status"] == "open"


async def test_a_stored_500_moves_to_a_new_key_and_the_user_gets_a_page(
    checkout: Checkout,
    reservations: Reservations,
    emulator: Emulator,
    dev_auth: DevAuth,
    unique: str,
) -> None:
    """Stripe replays a stored 500 to every retry with the key: retrying it is pointless."""
    token = dev_auth.issue_token(f"user_{unique}", f"{unique}@example.com")
    booked = await reservations.book(token, "mixing")
    await emulator.faults(500, 1, path_prefix=SESSIONS, after_execute=True)

    response = await checkout.create(token, {"reservationIds": [booked["id"]]})

    assert response.status_code == 200, response.text
    session = await emulator.session(response.json()["sessionId"])
    assert session["status"] == "open"
    assert session["url"] == response.json()["url"]
    # And again: the recorded open session is answered, not another one.
    again = await checkout.create(token, {"reservationIds": [booked["id"]]})
    assert again.status_code == 200, again.text
    assert again.json()["sessionId"] == response.json()["sessionId"]
