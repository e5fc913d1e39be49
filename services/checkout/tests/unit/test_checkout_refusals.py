"""What CheckoutService refuses before Stripe is asked, and who may read a session back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from checkout.service_layer.errors import (
    CartItemNotFound,
    EmailRequired,
    OrderError,
    ReservationRefused,
    ReservationServiceUnavailable,
    SessionNotFound,
    StripeUnavailable,
)
from checkout.service_layer.ports import CheckoutRequest

from .fakes import FakeApp, bootstrap

USER = "user_1"


def ask(
    reservation_ids: list[str] | None = None,
    cart_item_ids: list[str] | None = None,
    *,
    user: str = USER,
    email: str | None = "user_1@example.com",
) -> CheckoutRequest:
    return CheckoutRequest(
        user_id=user,
        user_email=email,
        token=user,
        request_id=None,
        reservation_ids=reservation_ids or [],
        cart_item_ids=cart_item_ids or [],
    )


@pytest.fixture
async def app() -> AsyncIterator[FakeApp]:
    app = bootstrap()
    yield app
    await app.superseder.close()


def assert_nothing_created(app: FakeApp) -> None:
    assert app.stripe.count("create") == 0
    assert app.db.attempts == {}
    assert app.db.sessions == {}
    assert app.db.outbox == []
    assert app.db.commits == 0


@pytest.mark.parametrize(
    ("reservation_ids", "cart_item_ids"), [([], []), ([" "], []), ([], ["", "  "])]
)
async def test_an_empty_order_is_refused(
    app: FakeApp, reservation_ids: list[str], cart_item_ids: list[str]
) -> None:
    with pytest.raises(OrderError) as raised:
        await app.service.create(ask(reservation_ids, cart_item_ids))

    assert (raised.value.code, raised.value.field) == ("empty_order", "body")
    assert app.reservations.calls == []
    assert_nothing_created(app)


async def test_more_items_than_stripes_metadata_holds_is_refused_before_anyone_is_asked(
    app: FakeApp,
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(14)]
    for reservation_id in ids:
        app.reservations.book(USER, reservation_id)

    with pytest.raises(OrderError) as raised:
        await app.service.create(ask(ids))

    assert (raised.value.code, raised.value.field) == ("too_many_items", "reservation_ids")
    assert "500-character" in raised.value.message
    assert app.reservations.calls == []
    assert_nothing_created(app)
    # Thirteen fit in Stripe's metadata.
    fitting = await app.service.create(ask(ids[:13]))
    assert fitting.created


async def test_an_email_is_required_to_create_but_not_to_quote(app: FakeApp) -> None:
    with pytest.raises(EmailRequired):
        await app.service.create(ask(cart_item_ids=["beat_low_tide"], email=None))

    quoted = await app.service.quote(ask(cart_item_ids=["beat_low_tide"], email=None))
    assert quoted.order_total == 1999
    assert_nothing_created(app)


@pytest.mark.parametrize("beat", ["beat_nope", "beat_retired"])
async def test_a_cart_item_not_on_sale_is_named(app: FakeApp, beat: str) -> None:
    app.db.inactive.add("beat_retired")
    app.db.beats["beat_retired"] = app.db.beats["beat_low_tide"]
    app.reservations.book(USER, "r1")

    with pytest.raises(CartItemNotFound) as raised:
        await app.service.create(ask(["r1"], ["beat_low_tide", beat]))

    assert raised.value.item_id == beat
    assert_nothing_created(app)


async def test_another_users_reservation_is_refused_with_the_callers_own_token(
    app: FakeApp,
) -> None:
    app.reservations.book("owner", "r1")

    with pytest.raises(ReservationRefused) as raised:
        await app.service.create(ask(["r1"], user="thief"))

    error = raised.value
    assert (error.status, error.code, error.reservation_id) == (404, "reservation_not_found", "r1")
    # The reservation service decides, on the caller's token (never a service credential).
    assert app.reservations.calls == [(["r1"], "thief", None)]
    assert_nothing_created(app)


async def test_a_paid_reservation_is_refused(app: FakeApp) -> None:
    app.reservations.book(USER, "r1")
    app.reservations.booked["r1"].status = "succeeded"

    with pytest.raises(ReservationRefused) as raised:
        await app.service.create(ask(["r1"]))

    assert (raised.value.status, raised.value.reservation_id) == (409, "r1")
    assert_nothing_created(app)


async def test_the_reservation_service_down_is_retryable_and_creates_nothing(
    app: FakeApp,
) -> None:
    app.reservations.failure = ReservationServiceUnavailable("unreachable")

    with pytest.raises(ReservationServiceUnavailable):
        await app.service.create(ask(["r1"]))

    assert_nothing_created(app)


async def test_a_session_is_its_owners_only(app: FakeApp) -> None:
    created = await app.service.create(ask(cart_item_ids=["beat_low_tide"]))
    session_id = created.session.session_id

    assert (await app.service.get(USER, session_id)).session_id == session_id
    with pytest.raises(SessionNotFound):
        await app.service.get("other_user", session_id)
    with pytest.raises(SessionNotFound):
        await app.service.get(USER, "cs_test_unknown")


async def test_reading_a_session_keeps_stripes_latest_word_and_asks_once_per_lifetime(
    app: FakeApp,
) -> None:
    created = await app.service.create(ask(cart_item_ids=["beat_low_tide"]))
    session_id = created.session.session_id
    app.stripe.end(session_id, "complete", "paid")
    asked = app.stripe.count("retrieve")

    views = [await app.service.get(USER, session_id) for _ in range(8)]

    assert {(v.status, v.payment_status) for v in views} == {("complete", "paid")}
    assert app.stripe.count("retrieve") == asked + 1
    assert (app.db.sessions[session_id].status, app.db.sessions[session_id].payment_status) == (
        "complete",
        "paid",
    )


async def test_reading_a_session_while_stripe_is_down_answers_the_record(app: FakeApp) -> None:
    created = await app.service.create(ask(cart_item_ids=["beat_low_tide"]))
    session_id = created.session.session_id
    app.stripe.fail("retrieve", StripeUnavailable("unreachable", "down"))

    view = await app.service.get(USER, session_id)

    assert (view.status, view.payment_status) == ("open", "unpaid")


async def test_the_catalog_lists_beats_on_sale_cheapest_first(app: FakeApp) -> None:
    app.db.inactive.add("beat_gold_rush")

    beats = await app.service.beats()

    assert [b.id for b in beats] == ["beat_low_tide", "beat_midnight_tape", "beat_neon_drift"]
