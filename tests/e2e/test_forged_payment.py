"""A payment forged with a leaked signing secret does not buy a booking (end to end).

The event is signed with the real secret, names the user's reservation at our price and
currency, and goes through webhook-ingest like Stripe's own; but checkout never created its
session, so the worker holds it (processing, nothing confirmed, no e-mail) until the sweep flags it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import pytest

from contracts.checkout import ReservationCheckoutMetadata
from devstack.testing import eventually

from .harness import Harness

pytestmark = pytest.mark.e2e


async def test_a_forged_paid_event_signed_with_the_real_secret_confirms_nothing(
    shared_stack: Harness,
) -> None:
    h = shared_stack
    user = h.user("forger")
    booked = await h.book(user)
    metadata = ReservationCheckoutMetadata.model_validate(
        {
            "userId": user.id,
            "userEmail": user.email,
            "type": "reservation_payment",
            "reservationIds": booked["id"],
            "servicesCount": "1",
            "servicesTotal": str(booked["amount"]),
            "cartCount": "0",
            "cartTotal": "0",
            "orderTotal": str(booked["amount"]),
        }
    )
    session_id = f"cs_test_forged_{uuid.uuid4().hex}"
    event_id = f"evt_forged_{uuid.uuid4().hex}"
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "livemode": False,
            "data": {
                "object": {
                    "id": session_id,
                    "object": "checkout.session",
                    "created": int(time.time()),
                    "status": "complete",
                    "payment_status": "paid",
                    "amount_total": booked["amount"],
                    "currency": booked["currency"],
                    "payment_intent": f"pi_forged_{uuid.uuid4().hex[:12]}",
                    "metadata": metadata.to_stripe_metadata(),
                }
            },
        }
    ).encode()
    at = int(time.time())
    secret = h.stack.config.webhook_secret  # the leaked secret
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    response = await h.http.post(
        h.url("webhook-ingest", "/webhooks/stripe"),
        content=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": f"t={at},v1={digest}"},
    )
    assert response.status_code == 200, response.text  # a valid signature: ingest takes it

    async def applied() -> bool:
        return event_id in await h.applied_event_ids()

    await eventually(applied, timeout=60, interval=0.2, what="the forged event applied")
    state = await h.reservation(user, booked["id"])
    assert state["status"] == "processing", state  # held for checkout's word, not confirmed
    assert state["payment"] is None
    assert not await h.facts_of(user)
    assert not await h.messages_to(user.email)
