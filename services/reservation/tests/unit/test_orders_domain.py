"""The order rules without I/O: the cart part of a payment, the check, settling once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reservation.domain.orders import (
    CartPayment,
    OrderAction,
    OrderLine,
    OrderStatus,
    decide_order,
    payment_problem,
)

LINES = (OrderLine("b1", "One", 2999), OrderLine("b2", "Two", 1999))
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_the_cart_part_of_a_mixed_session_excludes_its_reservations() -> None:
    paid = CartPayment.of_session(
        amount_total=15000 + 4998,
        services_total=15000,
        currency="eur",
        payment_intent_id="pi_1",
        paid_at=NOW,
    )
    assert paid.amount == 4998
    beats_only = CartPayment.of_session(
        amount_total=4998, services_total=0, currency="eur", payment_intent_id=None, paid_at=NOW
    )
    assert beats_only.amount == 4998


@pytest.mark.parametrize(
    ("amount", "currency", "problem"),
    [
        (4998, "eur", None),
        (4998, "EUR", None),
        (4997, "eur", "amount_mismatch"),
        (None, "eur", "amount_mismatch"),
        (4998, "usd", "currency_mismatch"),
        (4998, None, "currency_mismatch"),
    ],
)
def test_payment_problem(amount: int | None, currency: str | None, problem: str | None) -> None:
    assert payment_problem(LINES, "eur", amount, currency) == problem


@pytest.mark.parametrize(
    ("status", "sale_known", "paid", "problem", "action"),
    [
        (OrderStatus.OPEN, True, True, None, OrderAction.CONFIRM),
        (OrderStatus.OPEN, True, True, "amount_mismatch", OrderAction.FLAG),
        (OrderStatus.OPEN, False, True, None, OrderAction.WAIT),
        (OrderStatus.OPEN, True, False, None, OrderAction.WAIT),
        (OrderStatus.CONFIRMED, True, True, None, OrderAction.WAIT),
        (OrderStatus.NEEDS_REVIEW, True, True, None, OrderAction.WAIT),
    ],
)
def test_an_order_settles_once_it_knows_the_sale_and_the_payment(
    status: OrderStatus, sale_known: bool, paid: bool, problem: str | None, action: OrderAction
) -> None:
    assert decide_order(status, sale_known=sale_known, paid=paid, problem=problem) is action
