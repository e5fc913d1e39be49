"""Which stored Stripe request is resent, which generation comes next, and polling's lifetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from checkout.domain.expiry import Expiry
from checkout.domain.model import Order, PricedReservation
from checkout.domain.sessions import CheckoutAttempt
from checkout.service_layer import attempts
from checkout.service_layer.status_cache import StatusCache

NOW = datetime(2026, 3, 14, 11, 0, tzinfo=UTC)


def _order(amount: int = 15000, email: str = "u1@x.test") -> Order:
    held = PricedReservation("r1", "Mixing", amount, "eur", NOW + timedelta(minutes=10))
    return Order.build("u1", email, [held], [])


def _attempt(order: Order, generation: int, state: str) -> CheckoutAttempt:
    row = attempts.new_attempt(order, generation, {"p": 1}, Expiry(NOW, True), NOW)
    row.state = state
    return row


def test_a_pending_attempt_of_the_same_terms_is_resent() -> None:
    order = _order()
    assert attempts.resendable(_attempt(order, 0, attempts.PENDING), order)
    assert not attempts.resendable(None, order)
    for spent in (attempts.BURNED, attempts.REFUSED, attempts.ENDED, attempts.CREATED):
        assert not attempts.resendable(_attempt(order, 0, spent), order)
    # Other prices or e-mail: other parameters, so a new generation, never the stored request.
    assert not attempts.resendable(_attempt(order, 0, attempts.PENDING), _order(amount=9000))
    assert not attempts.resendable(_attempt(order, 0, attempts.PENDING), _order(email="b@x.t"))


def test_next_generation_is_past_every_used_one() -> None:
    order = _order()
    assert attempts.next_generation([], None) == 0
    assert attempts.next_generation([], _attempt(order, 4, attempts.BURNED)) == 5


def test_status_is_asked_again_only_after_its_lifetime() -> None:
    now = [100.0]
    cache = StatusCache(5.0, clock=lambda: now[0])
    assert cache.due("cs_1")
    assert not cache.due("cs_1")
    assert cache.due("cs_2")
    now[0] += 5.0
    assert cache.due("cs_1")
