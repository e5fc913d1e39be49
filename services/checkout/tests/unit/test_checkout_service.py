"""CheckoutService's decisions on fakes: one session per order, the stored request resent exactly,
spent keys left behind, and nothing recorded for a session Stripe did not make."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from checkout.domain.model import Order
from checkout.service_layer import attempts
from checkout.service_layer import checkout as checkout_module
from checkout.service_layer.errors import (
    CheckoutInProgress,
    StripeIdempotencyConflict,
    StripeRefused,
    StripeUnavailable,
    UnavailableKind,
)
from checkout.service_layer.ports import CheckoutRequest
from contracts import headers as h
from contracts.checkout import CHECKOUT_SESSION_CREATED_V1, CheckoutSessionCreatedV1
from contracts.topics import CHECKOUT_SESSIONS

from .fakes import POLICY, FakeApp, bootstrap

USER = "user_1"
EMAIL = "user_1@example.com"


def ask(
    reservation_ids: list[str] | None = None,
    cart_item_ids: list[str] | None = None,
    *,
    user: str = USER,
    email: str | None = EMAIL,
    request_id: str | None = "req-1",
) -> CheckoutRequest:
    """A create request; the fake reservation service knows the caller by the token (the id)."""
    return CheckoutRequest(
        user_id=user,
        user_email=email,
        token=user,
        request_id=request_id,
        reservation_ids=reservation_ids or [],
        cart_item_ids=cart_item_ids or [],
    )


@pytest.fixture
async def app() -> AsyncIterator[FakeApp]:
    app = bootstrap()
    yield app
    await app.superseder.close()  # the background expiries of superseded sessions


def unavailable(kind: UnavailableKind = "server_error", *, replayed: bool = False) -> Exception:
    return StripeUnavailable(kind, f"Stripe {kind}", replayed=replayed)


async def test_a_new_order_is_stored_then_sent_once_and_recorded_with_its_fact(
    app: FakeApp,
) -> None:
    app.reservations.book(USER, "r1", 15000)

    result = await app.service.create(ask(["r1"], ["beat_low_tide"]))

    assert result.created
    session = result.session
    assert app.stripe.count("create") == 1
    # The request sent is exactly the one stored first, under the order's first key.
    [(key, params)] = app.stripe.created_with
    [attempt] = app.db.attempts.values()
    assert (attempt.idempotency_key, attempt.params) == (key, params)
    assert (attempt.generation, attempt.state, attempt.session_id) == (
        0,
        attempts.CREATED,
        session.session_id,
    )
    # Prices are the reservation service's and the catalog's, never the client's.
    amounts = [i["price_data"]["unit_amount"] for i in params["line_items"]]
    assert amounts == [15000, 1999]
    assert params["client_reference_id"] == USER
    assert params["customer_email"] == EMAIL
    assert (params["success_url"], params["cancel_url"]) == (POLICY.success_url, POLICY.cancel_url)
    assert app.reservations.calls == [(["r1"], USER, "req-1")]

    assert app.db.sessions[session.session_id] == session
    assert (session.checkout_type, session.order_total, session.generation) == (
        "mixed_cart",
        16999,
        0,
    )
    # The fact is in the outbox of the same transaction, keyed by the session.
    [record] = app.db.outbox
    assert (record.topic, record.key) == (CHECKOUT_SESSIONS, session.session_id.encode())
    headers = dict(record.headers)
    assert headers[h.EVENT_TYPE] == CHECKOUT_SESSION_CREATED_V1
    assert headers[h.CORRELATION_ID] == session.session_id
    assert headers[h.REQUEST_ID] == "req-1"
    fact = CheckoutSessionCreatedV1.model_validate_json(record.value)
    assert headers[h.EVENT_ID] == str(fact.event_id)
    assert fact.occurred_at == app.stripe.sessions[session.session_id].created
    assert (fact.reservation_ids, fact.cart_item_ids) == (["r1"], ["beat_low_tide"])
    assert [(i.item_id, i.title, i.price) for i in fact.cart_items] == [
        ("beat_low_tide", "Low Tide", 1999)
    ]
    assert app.metrics.sessions == [("mixed_cart", "created")]


async def test_the_same_items_again_answer_the_open_session(app: FakeApp) -> None:
    app.reservations.book(USER, "r1")
    first = await app.service.create(ask(["r1"], ["beat_low_tide"]))

    # Reordered and repeated ids are the same order.
    again = await app.service.create(ask(["r1", "r1", " "], ["beat_low_tide"]))

    assert not again.created
    assert again.session.session_id == first.session.session_id
    assert app.stripe.count("create") == 1
    assert app.stripe.count("retrieve") == 1  # open at Stripe, checked before it is answered
    assert len(app.db.outbox) == 1
    assert app.metrics.sessions == [("mixed_cart", "created"), ("mixed_cart", "reused")]

    # Other items are another order: another session.
    other = await app.service.create(ask(cart_item_ids=["beat_low_tide"]))
    assert other.created
    assert other.session.session_id != first.session.session_id


async def test_an_ended_session_is_replaced_by_the_next_generation(app: FakeApp) -> None:
    first = await app.service.create(ask(cart_item_ids=["beat_neon_drift"]))
    app.stripe.end(first.session.session_id, "expired")

    again = await app.service.create(ask(cart_item_ids=["beat_neon_drift"]))

    assert again.created
    assert again.session.session_id != first.session.session_id
    assert again.session.generation == 1
    # What Stripe said about the old one is kept.
    assert app.db.sessions[first.session.session_id].status == "expired"
    assert len(app.db.outbox) == 2


async def test_a_changed_price_is_a_new_key_not_a_reused_session(app: FakeApp) -> None:
    app.reservations.book(USER, "r1", 15000)
    first = await app.service.create(ask(["r1"]))
    app.reservations.book(USER, "r1", 12000)

    second = await app.service.create(ask(["r1"]))

    assert second.created
    assert second.session.session_id != first.session.session_id
    assert second.session.order_total == 12000
    keys = [key for key, _ in app.stripe.created_with]
    assert len(set(keys)) == 2
    # The older session of the same reservation is marked to be expired at Stripe.
    old = app.db.sessions[first.session.session_id]
    assert old.superseded_by == second.session.session_id


@pytest.mark.parametrize("kind", ["server_error", "rate_limited", "timeout", "unreachable"])
async def test_stripe_failing_records_nothing_but_the_request_to_resend(
    app: FakeApp, kind: UnavailableKind
) -> None:
    app.reservations.book(USER, "r1")
    app.stripe.fail("create", unavailable(kind))

    with pytest.raises(StripeUnavailable) as raised:
        await app.service.create(ask(["r1"]))

    assert raised.value.kind == kind
    assert app.db.sessions == {}
    assert app.db.outbox == []
    # The one commit stored the request before it was sent; it waits for the client's retry.
    assert app.db.commits == 1
    assert app.db.attempt_states() == [(0, attempts.PENDING)]
    assert app.metrics.sessions == []


async def test_a_lost_answer_is_resent_with_the_same_key_and_exact_parameters(
    app: FakeApp,
) -> None:
    # A hold shorter than Stripe's floor: expires_at follows the clock, minute by minute.
    app.reservations.book(USER, "r1", hold=timedelta(minutes=10))
    app.stripe.fail("create", unavailable("timeout"), after_execute=True)
    with pytest.raises(StripeUnavailable):
        await app.service.create(ask(["r1"]))
    [made] = app.stripe.sessions

    app.clock.advance(timedelta(minutes=3))
    retry = await app.service.create(ask(["r1"]))

    first, resent = app.stripe.created_with
    assert resent == first
    order = await app.service.quote(ask(["r1"]))
    fresh = app.service._fresh_params(order, app.clock())
    assert fresh.params["expires_at"] != first[1]["expires_at"]  # recomputing would differ
    assert retry.created
    assert retry.session.session_id == made
    assert list(app.stripe.sessions) == [made]
    assert app.db.attempt_states() == [(0, attempts.CREATED)]


async def test_a_stored_5xx_moves_to_a_new_key_within_the_same_request(app: FakeApp) -> None:
    app.reservations.book(USER, "r1")
    app.stripe.fail("create", unavailable(replayed=True), after_execute=True)

    result = await app.service.create(ask(["r1"]))

    assert result.created
    assert result.session.generation == 1
    assert app.db.attempt_states() == [(0, attempts.BURNED), (1, attempts.CREATED)]
    keys = [key for key, _ in app.stripe.created_with]
    assert len(set(keys)) == 2
    # And again: the recorded open session is answered, not another one.
    again = await app.service.create(ask(["r1"]))
    assert again.session.session_id == result.session.session_id
    assert app.stripe.count("create") == 2


async def test_a_broken_stripe_is_not_hammered_past_three_keys(app: FakeApp) -> None:
    app.reservations.book(USER, "r1")
    app.stripe.fail("create", unavailable(replayed=True), times=5)

    with pytest.raises(StripeUnavailable) as raised:
        await app.service.create(ask(["r1"]))

    assert raised.value.replayed
    assert app.stripe.count("create") == 3
    assert app.db.attempt_states() == [(g, attempts.BURNED) for g in range(3)]
    assert app.db.sessions == {}
    assert app.db.outbox == []


async def test_stripe_refusing_fresh_parameters_is_the_callers_answer(app: FakeApp) -> None:
    app.stripe.fail("create", StripeRefused(400, "amount_too_small", "at least 50 cents"))

    with pytest.raises(StripeRefused) as raised:
        await app.service.create(ask(cart_item_ids=["beat_low_tide"]))

    assert raised.value.code == "amount_too_small"
    assert app.db.attempt_states() == [(0, attempts.REFUSED)]
    assert app.db.sessions == {}
    assert app.db.outbox == []


async def test_a_resent_request_stripe_refuses_gets_fresh_parameters(app: FakeApp) -> None:
    app.reservations.book(USER, "r1")
    app.stripe.fail("create", unavailable("unreachable"))
    with pytest.raises(StripeUnavailable):
        await app.service.create(ask(["r1"]))
    # The stored parameters went stale (an expires_at now in the past, say).
    app.stripe.fail("create", StripeRefused(400, "parameter_invalid", "expires_at is past"))

    result = await app.service.create(ask(["r1"]))

    assert result.created
    assert app.db.attempt_states() == [(0, attempts.REFUSED), (1, attempts.CREATED)]


async def test_a_key_reused_with_other_parameters_moves_to_the_next_generation(
    app: FakeApp,
) -> None:
    app.stripe.fail("create", StripeIdempotencyConflict("other parameters", in_use=False))

    result = await app.service.create(ask(cart_item_ids=["beat_gold_rush"]))

    assert result.created
    assert app.db.attempt_states() == [(0, attempts.BURNED), (1, attempts.CREATED)]


async def test_a_resent_request_whose_session_ended_moves_on(app: FakeApp) -> None:
    app.reservations.book(USER, "r1")
    app.stripe.fail("create", unavailable("timeout"), after_execute=True)
    with pytest.raises(StripeUnavailable):
        await app.service.create(ask(["r1"]))
    [made] = app.stripe.sessions
    app.stripe.end(made, "expired")

    result = await app.service.create(ask(["r1"]))

    assert result.created
    assert result.session.session_id != made
    assert app.db.attempt_states() == [(0, attempts.ENDED), (1, attempts.CREATED)]
    ended = next(a for a in app.db.attempts.values() if a.generation == 0)
    assert ended.session_id == made
    assert made not in app.db.sessions  # an ended session nobody was answered is not recorded


async def test_a_key_held_by_a_concurrent_request_answers_its_session(app: FakeApp) -> None:
    app.reservations.book(USER, "r1")
    order = await app.service.quote(ask(["r1"]))

    def twin_records() -> None:
        # The concurrent twin got the session from Stripe and records it.
        [attempt] = app.db.attempts.values()
        session = app.stripe.make(attempt.params, attempt.idempotency_key)
        app.db.sessions[session.id] = attempts.session_row(
            order, session=session, attempt=attempt, request_id=None
        )

    app.stripe.fail(
        "create", StripeIdempotencyConflict("in use", in_use=True), meanwhile=twin_records
    )

    result = await app.service.create(ask(["r1"]))

    assert not result.created
    assert result.session.session_id == next(iter(app.stripe.sessions))
    assert app.db.outbox == []  # the twin publishes its fact, not this request


async def test_a_key_held_by_a_twin_that_never_records_is_retryable(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkout_module, "_CONCURRENT_WAIT_S", 0.0)
    app.stripe.fail("create", StripeIdempotencyConflict("in use", in_use=True))

    with pytest.raises(CheckoutInProgress):
        await app.service.create(ask(cart_item_ids=["beat_low_tide"]))

    assert app.db.sessions == {}
    assert app.db.attempt_states() == [(0, attempts.PENDING)]


async def test_a_session_too_close_to_its_end_is_recorded_and_replaced(app: FakeApp) -> None:
    app.reservations.book(USER, "r1", hold=timedelta(minutes=10))
    app.stripe.fail("create", unavailable("timeout"), after_execute=True)
    with pytest.raises(StripeUnavailable):
        await app.service.create(ask(["r1"]))
    [stale] = app.stripe.sessions
    # The client retries so late that the stored request's session closes within two minutes.
    app.clock.now = app.stripe.sessions[stale].expires_at - timedelta(minutes=1)

    result = await app.service.create(ask(["r1"]))

    assert result.created
    assert result.session.session_id != stale
    # The stale one was recorded (with its fact) and is superseded by the page the user got.
    assert app.db.sessions[stale].superseded_by == result.session.session_id
    assert [r.key for r in app.db.outbox] == [stale.encode(), result.session.session_id.encode()]
    assert app.db.attempt_states() == [(0, attempts.CREATED), (1, attempts.CREATED)]


async def test_the_order_is_priced_the_same_way_by_quote_and_create(app: FakeApp) -> None:
    app.reservations.book(USER, "r1", 15000)

    quoted = await app.service.quote(ask(["r1"], ["beat_gold_rush"], email=None))
    created = await app.service.create(ask(["r1"], ["beat_gold_rush"]))

    assert isinstance(quoted, Order)
    assert quoted.order_total == created.session.order_total == 19999
    assert quoted.idempotency_key(0) != created.session.idempotency_key  # the e-mail is in it
    assert app.stripe.count("create") == 1
