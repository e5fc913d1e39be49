"""Nothing waits forever in processing: an overdue session is looked up at Stripe and applied."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import stripe

from contracts import stripe as s
from contracts.reservation import ReservationConfirmedV1
from reservation.bootstrap import Container, utc_now
from reservation.service_layer.overdue import OverdueSessions
from reservation.settings import Settings

from ..conftest import (
    checkout_fact,
    checkout_message,
    emulator_session,
    outbox_facts,
    reservation_state,
)
from ..conftest import stripe_message as as_message

pytestmark = pytest.mark.integration

Book = Callable[..., Any]


async def opened(container: Container, client: stripe.StripeClient, row: Any, ends: int) -> str:
    """Checkout opened a session ending at `ends` (Unix): the reservation is processing."""
    session = emulator_session(client, row, expires_at=ends)
    fact = checkout_fact(session.id, [row]).model_copy(
        update={"expires_at": datetime.fromtimestamp(ends, UTC)}
    )
    await container.batch_handler([checkout_message(fact)])
    assert reservation_state(container.settings.database.url.get_secret_value(), row.id)[
        "status"
    ] == ("processing")
    return str(session.id)


def overdue(container: Container, settings: Settings, grace_s: float = 0) -> OverdueSessions:
    return OverdueSessions(
        uow=lambda: container.uow(None),
        stripe=container.stripe,
        payments=container.payments,
        grace=timedelta(seconds=grace_s),
        clock=utc_now,
        observer=container.observer,
    )


async def test_a_lost_expired_event_no_longer_holds_the_slot(
    container: Container,
    settings: Settings,
    book: Book,
    stripe_client: stripe.StripeClient,
    reservation_db: str,
) -> None:
    # The hold has run out too, so the expired session frees the slot.
    row = await book(now=datetime.now(UTC) - timedelta(hours=1))
    sid = await opened(container, stripe_client, row, int(time.time()))
    lookup = overdue(container, settings)
    # Before the grace has passed nothing is asked.
    assert await overdue(container, settings, grace_s=3600).overdue_session_ids() == []
    assert await lookup.overdue_session_ids() == [sid]
    assert await lookup.run_once() == 1
    state = reservation_state(reservation_db, row.id)
    assert state["status"] == "expired"
    # Stripe still had the page open (its expiry lags): it was expired there, so nobody can pay.
    assert stripe_client.v1.checkout.sessions.retrieve(sid).status == "expired"
    # Nothing left to look up; a second pass changes nothing.
    assert await lookup.run_once() == 0
    assert reservation_state(reservation_db, row.id)["status"] == "expired"


async def test_a_lost_completed_event_confirms_and_the_real_one_changes_nothing(
    container: Container,
    settings: Settings,
    book: Book,
    stripe_client: stripe.StripeClient,
    emulator_url: str,
    reservation_db: str,
) -> None:
    row = await book()
    sid = await opened(container, stripe_client, row, int(time.time()))
    # Paid on Stripe; the emulator has no webhook endpoint, so `completed` never reached us.
    httpx.post(
        f"{emulator_url}/_emulator/checkout/sessions/{sid}/complete", json={"outcome": "paid"}
    ).raise_for_status()
    lookup = overdue(container, settings)
    assert await lookup.run_once() == 1
    assert await lookup.resolve(sid) == "complete"  # a second worker's look-up: one inbox claim
    state = reservation_state(reservation_db, row.id)
    assert state["status"] == "succeeded"
    assert state["paid_session_id"] == sid
    # The real event, delivered late, is applied and changes nothing: one confirmation.
    events = stripe_client.v1.events.list(params={"type": s.CHECKOUT_SESSION_COMPLETED})
    [real] = [e for e in events.data if e.data.object.id == sid]
    await container.batch_handler([as_message(real.to_dict())])
    confirmations = [
        f for f in outbox_facts(reservation_db) if isinstance(f, ReservationConfirmedV1)
    ]
    assert len(confirmations) == 1


async def test_a_page_still_open_within_its_time_is_left_alone(
    container: Container,
    settings: Settings,
    book: Book,
    stripe_client: stripe.StripeClient,
    reservation_db: str,
) -> None:
    row = await book()
    ends = int(time.time()) + 3600
    await opened(container, stripe_client, row, ends)
    assert await overdue(container, settings).overdue_session_ids() == []
    assert reservation_state(reservation_db, row.id)[
        "session_expires_at"
    ] == datetime.fromtimestamp(ends, UTC)
