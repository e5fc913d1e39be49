"""A newer session for a reservation expires the older one at Stripe: one payable page at a time."""

from __future__ import annotations

import pytest

from devstack.devauth import DevAuth
from devstack.testing import eventually

from .conftest import Checkout, Emulator, Reservations

pytestmark = pytest.mark.integration


async def _status(emulator: Emulator, session_id: str) -> str:
    return str((await emulator.session(session_id))["status"])


async def test_adding_a_beat_expires_the_reservation_only_session(
    checkout: Checkout,
    reservations: Reservations,
    emulator: Emulator,
    dev_auth: DevAuth,
    unique: str,
) -> None:
    token = dev_auth.issue_token(f"user_{unique}", f"{unique}@example.com")
    booked = await reservations.book(token, "mixing")
    alone = await checkout.create(token, {"reservationIds": [booked["id"]]})
    assert alone.status_code == 200, alone.text
    old = alone.json()["sessionId"]

    mixed = await checkout.create(
        token, {"reservationIds": [booked["id"]], "cartItemIds": ["beat_low_tide"]}
    )

    assert mixed.status_code == 200, mixed.text
    new = mixed.json()["sessionId"]
    assert new != old

    async def old_expired() -> bool:
        return await _status(emulator, old) == "expired"

    await eventually(old_expired, timeout=20, what="the superseded session expired at Stripe")
    assert await _status(emulator, new) == "open"
    # Going back to the reservation alone is a new page, not the expired one.
    back = await checkout.create(token, {"reservationIds": [booked["id"]]})
    assert back.status_code == 200, back.text
    assert back.json()["sessionId"] not in (old, new)


async def test_expiry_is_retried_while_stripe_refuses_it(
    checkout: Checkout,
    reservations: Reservations,
    emulator: Emulator,
    dev_auth: DevAuth,
    unique: str,
) -> None:
    token = dev_auth.issue_token(f"user_{unique}", f"{unique}@example.com")
    booked = await reservations.book(token, "mixing")
    first = await checkout.create(token, {"reservationIds": [booked["id"]]})
    assert first.status_code == 200, first.text
    old = first.json()["sessionId"]
    # Stripe fails every expire of the old session for a while (more than one call's retries).
    await emulator.faults(503, 6, path_prefix=f"/v1/checkout/sessions/{old}/expire")

    second = await checkout.create(
        token, {"reservationIds": [booked["id"]], "cartItemIds": ["beat_gold_rush"]}
    )

    assert second.status_code == 200, second.text

    async def old_expired() -> bool:
        return await _status(emulator, old) == "expired"

    await eventually(old_expired, timeout=30, what="the sweep expired the superseded session")
    assert emulator.calls("POST", f"/v1/checkout/sessions/{old}/expire") > 1
