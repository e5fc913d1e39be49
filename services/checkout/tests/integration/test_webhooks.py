"""The emulator's webhooks for a session we created verify with the stripe package's own check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracts.checkout import ReservationCheckoutMetadata
from devstack.devauth import DevAuth
from devstack.testing import ServedApp, eventually

from .conftest import WEBHOOK_SECRET, Checkout, Emulator, Reservations

pytestmark = pytest.mark.integration


@dataclass
class Received:
    """What a webhook endpoint got: the exact bytes and the signature header."""

    deliveries: list[tuple[bytes, str]] = field(default_factory=list)


def receiver(received: Received) -> Starlette:
    async def webhook(request: Request) -> Response:
        received.deliveries.append(
            (await request.body(), request.headers.get("stripe-signature", ""))
        )
        return Response(status_code=200)

    return Starlette(routes=[Route("/webhooks/stripe", webhook, methods=["POST"])])


async def test_paid_session_webhooks_verify_with_stripe_construct_event(
    checkout: Checkout,
    reservations: Reservations,
    emulator: Emulator,
    dev_auth: DevAuth,
    unique: str,
) -> None:
    received = Received()
    async with ServedApp(receiver(received)) as endpoint:
        configured = await emulator.http.post(
            "/_emulator/webhook",
            json={"url": f"{endpoint.url}/webhooks/stripe", "secret": WEBHOOK_SECRET},
        )
        configured.raise_for_status()
        user = f"user_{unique}"
        token = dev_auth.issue_token(user, f"{unique}@example.com")
        booked = await reservations.book(token, "mixing")
        created = await checkout.create(
            token, {"reservationIds": [booked["id"]], "cartItemIds": ["beat_low_tide"]}
        )
        session_id = created.json()["sessionId"]

        paid = await emulator.http.post(
            f"/_emulator/checkout/sessions/{session_id}/complete", json={"outcome": "paid"}
        )
        paid.raise_for_status()

        def completed() -> list[Any]:
            events = [
                stripe.Webhook.construct_event(payload, signature, WEBHOOK_SECRET)
                for payload, signature in received.deliveries
            ]
            return [e for e in events if e.type == "checkout.session.completed"]

        async def probe() -> list[Any]:
            return completed()

        [event] = await eventually(probe, timeout=10, what="checkout.session.completed")

    session = event.data.object
    assert session.id == session_id
    assert session.payment_status == "paid"
    assert session.amount_total == 15000 + 1999
    metadata = ReservationCheckoutMetadata.from_stripe_metadata(session.metadata.to_dict())
    assert metadata.checkout_type == "mixed_cart"
    assert metadata.reservation_ids == [booked["id"]]
    assert metadata.order_total == session.amount_total
    # Every delivery verifies; a tampered body does not.
    payload, signature = received.deliveries[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload + b" ", signature, WEBHOOK_SECRET)

    view = await checkout.http.get(
        f"/api/checkout-sessions/{session_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert view.json()["status"] == "complete"
    assert view.json()["paymentStatus"] == "paid"
