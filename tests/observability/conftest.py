"""One payment through the whole system (a RunningStack with its own broker), and its logs.

The stack runs once per session: `paid_payment` books a slot, opens a Checkout Session, pays it
on the Stripe emulator, waits for the reservation to succeed and the e-mail to leave, and hands
the ids and the JSON log lines of every process to the tests that follow it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from devstack.infra import Provided
from devstack.running import RunningStack
from devstack.stack import DEV_STRIPE_API_KEY
from devstack.testing import eventually

from .support import PaymentRun


@pytest.fixture(scope="session")
def observed_stack(
    kafka_infra: Provided, postgres_infra: Provided, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    """The whole stack, JSON logs, its own broker when the session's broker is embedded."""
    stack = RunningStack.isolated(
        kafka_infra,
        postgres_infra,
        tmp_path_factory.mktemp("observability"),
        env_all={"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"},
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


async def _pay_once(stack: RunningStack) -> PaymentRun:
    suffix = uuid.uuid4().hex[:10]
    user_id, email = f"user_obs_{suffix}", f"obs.{suffix}@customers.example"
    token = stack.token(user_id, email)
    auth = {"Authorization": f"Bearer {token}"}
    starts_at = (
        datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=90)
    ).isoformat()
    async with httpx.AsyncClient(timeout=15.0) as http:
        booked = await http.post(
            stack.url("reservation-api", "/api/reservations"),
            json={"service_id": "recording", "starts_at": starts_at},
            headers=auth,
        )
        assert booked.status_code == 201, booked.text
        reservation_id = str(booked.json()["id"])
        created = await http.post(
            stack.url("checkout", "/api/clerk/create-checkout-session"),
            json={"reservationIds": [reservation_id], "cartItemIds": []},
            headers=auth,
        )
        assert created.status_code == 200, created.text
        session_id = str(created.json()["sessionId"])
        paid = await http.post(
            stack.url("stripe-emulator", f"/_emulator/checkout/sessions/{session_id}/complete"),
            json={"outcome": "paid"},
        )
        assert paid.status_code == 200, paid.text

        async def succeeded() -> bool:
            got = await http.get(
                stack.url("reservation-api", f"/api/reservations/{reservation_id}"),
                headers=auth,
            )
            return got.status_code == 200 and got.json()["status"] == "succeeded"

        await eventually(succeeded, timeout=45, interval=0.2, what="reservation succeeded")

        async def mailed() -> bool:
            got = await http.get(stack.url("mail-web", "/api/v1/messages"), params={"limit": 0})
            messages = got.json().get("messages", []) if got.status_code == 200 else []
            return any(a["Address"].lower() == email for m in messages for a in m.get("To", []))

        await eventually(mailed, timeout=45, interval=0.2, what=f"an e-mail to {email}")

        events = await http.get(
            stack.url("stripe-emulator", "/v1/events"),
            params={"limit": 100},
            headers={"Authorization": f"Bearer {DEV_STRIPE_API_KEY}"},
        )
        assert events.status_code == 200, events.text
        event_ids = [
            str(e["id"]) for e in events.json()["data"] if e["data"]["object"]["id"] == session_id
        ]
        assert event_ids, f"no Stripe event about {session_id}"
    return PaymentRun(stack, token, email, reservation_id, session_id, sorted(set(event_ids)))


@pytest.fixture(scope="session")
async def paid_payment(observed_stack: RunningStack) -> PaymentRun:
    """One reservation paid end to end; waits until the notifier logged the e-mail it sent."""
    run = await _pay_once(observed_stack)

    async def notifier_logged() -> bool:
        return any(
            line.event == "notification.sent" and line.mentions(run.reservation_id)
            for line in run.lines("notifier")
        )

    await eventually(notifier_logged, timeout=20, interval=0.2, what="notifier's sent line")
    return run
