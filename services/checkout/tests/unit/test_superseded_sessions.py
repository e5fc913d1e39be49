"""A newer session for a reservation marks the older one, which is expired at Stripe after the
commit (once the newer fact is out), and by the sweep while Stripe cannot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from checkout.service_layer.errors import StripeUnavailable
from checkout.service_layer.ports import CheckoutRequest

from .fakes import FakeApp, bootstrap

USER = "user_1"
WAIT = timedelta(seconds=10)


def ask(reservation_ids: list[str], cart_item_ids: list[str] | None = None) -> CheckoutRequest:
    return CheckoutRequest(
        user_id=USER,
        user_email="user_1@example.com",
        token=USER,
        request_id=None,
        reservation_ids=reservation_ids,
        cart_item_ids=cart_item_ids or [],
    )


@pytest.fixture
async def app() -> AsyncIterator[FakeApp]:
    # The background expiry waits for the newer session's fact: the tests relay it.
    app = bootstrap(fact_wait_s=WAIT.total_seconds())
    app.reservations.book(USER, "r1")
    yield app
    app.db.relay()
    await app.superseder.close()


async def test_adding_a_beat_marks_and_then_expires_the_reservation_only_session(
    app: FakeApp,
) -> None:
    alone = (await app.service.create(ask(["r1"]))).session.session_id
    app.db.relay()

    mixed = (await app.service.create(ask(["r1"], ["beat_low_tide"]))).session.session_id

    # Marked in the transaction that recorded the newer one, not yet expired at Stripe.
    old = app.db.sessions[alone]
    assert (old.expire_pending, old.superseded_by) == (True, mixed)
    app.db.relay()  # the newer session's fact is on its topic
    await app.superseder.close()
    assert app.stripe.sessions[alone].status == "expired"
    assert app.stripe.sessions[mixed].status == "open"
    old = app.db.sessions[alone]
    assert (old.expire_pending, old.status) == (False, "expired")
    assert app.metrics.superseded_outcomes == ["expired"]

    # Going back to the reservation alone is a new page, not the expired one.
    back = (await app.service.create(ask(["r1"]))).session.session_id
    assert back not in (alone, mixed)
    assert app.db.sessions[mixed].superseded_by == back
    app.db.relay()


async def test_sessions_of_other_reservations_are_left_alone(app: FakeApp) -> None:
    app.reservations.book(USER, "r2")
    first = (await app.service.create(ask(["r1"]))).session.session_id

    await app.service.create(ask(["r2"]))

    assert not app.db.sessions[first].expire_pending
    assert app.db.sessions[first].superseded_by is None


async def test_stripe_unavailable_leaves_the_mark_for_the_sweep(app: FakeApp) -> None:
    alone = (await app.service.create(ask(["r1"]))).session.session_id
    app.stripe.fail("expire", StripeUnavailable("server_error", "Stripe failed (503)"))
    await app.service.create(ask(["r1"], ["beat_gold_rush"]))
    app.db.relay()
    await app.superseder.close()

    assert app.db.sessions[alone].expire_pending
    assert app.stripe.sessions[alone].status == "open"
    assert app.metrics.superseded_outcomes == ["deferred"]

    # A fresh mark is the background expiry's; the sweep takes it once the wait has passed.
    assert await app.superseder.sweep() == 0
    app.clock.advance(WAIT + timedelta(seconds=1))
    assert await app.superseder.sweep() == 1

    assert app.stripe.sessions[alone].status == "expired"
    assert not app.db.sessions[alone].expire_pending
    assert app.metrics.superseded_outcomes == ["deferred", "expired"]


async def test_a_superseded_session_paid_meanwhile_is_recorded_as_it_is(app: FakeApp) -> None:
    alone = (await app.service.create(ask(["r1"]))).session.session_id
    # Stripe refuses to expire a session that is not open: it is read back instead.
    app.stripe.fail("expire", StripeUnavailable("timeout", "slow"))
    await app.service.create(ask(["r1"], ["beat_low_tide"]))
    app.db.relay()
    await app.superseder.close()
    app.stripe.end(alone, "complete", "paid")

    app.clock.advance(WAIT + timedelta(seconds=1))
    assert await app.superseder.sweep() == 1

    old = app.db.sessions[alone]
    assert (old.status, old.payment_status, old.expire_pending) == ("complete", "paid", False)
    assert app.metrics.superseded_outcomes == ["deferred", "ended"]
