"""Beats orders: one per checkout session with beats, confirmed once whatever the arrival order.

An order learns two things from two sources that arrive in either order, or twice:
- what was sold (titles, server-side prices) from checkout's CheckoutSessionCreatedV1;
- that it was paid (amount, currency, payment intent) from Stripe's session events.
Whichever comes first creates the order (`open`); the Stripe side alone knows only the cart ids
and the cart total of the session metadata, so it records the payment and waits. The order is
settled by the message that completes the pair, once: `confirmed` when the cart part of the
payment equals the sum of the items as sold, `needs_review` otherwise. Settled orders never move.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class OrderStatus(StrEnum):
    """Where an order stands; `needs_review`: paid, but not what was sold, an operator acts."""

    OPEN = "open"
    CONFIRMED = "confirmed"
    NEEDS_REVIEW = "needs_review"
    DISPUTED = "disputed"  # paid, then disputed at the payer's bank (service_layer.disputes)
    DISPUTE_LOST = "dispute_lost"
    REFUNDED = "refunded"  # all of its payment went back


@dataclass(frozen=True)
class OrderLine:
    """One beat as checkout sold it."""

    item_id: str
    title: str
    price: int


@dataclass(frozen=True)
class OrderDraft:
    """What one message says of a session's order; `lines` is None when it does not know them."""

    session_id: str
    user_id: str
    user_email: str
    cart_item_ids: tuple[str, ...]
    lines: tuple[OrderLine, ...] | None
    total: int  # the items' sum when lines are known, else the cart total of the metadata
    currency: str


@dataclass(frozen=True)
class CartPayment:
    """What Stripe says was paid for the cart: the session total minus its reservations part."""

    payment_intent_id: str | None
    amount: int | None
    currency: str | None
    paid_at: datetime

    @classmethod
    def of_session(
        cls,
        *,
        amount_total: int | None,
        services_total: int | None,
        currency: str | None,
        payment_intent_id: str | None,
        paid_at: datetime,
    ) -> CartPayment:
        """The cart part of a paid session (its reservations are checked on their own)."""
        amount = None if amount_total is None else amount_total - (services_total or 0)
        return cls(payment_intent_id, amount, currency, paid_at)


class OrderAction(StrEnum):
    """What the service layer does to the order after recording what a message said."""

    WAIT = "wait"  # settled already, or the sale or the payment is still unknown
    CONFIRM = "confirm"
    FLAG = "flag"


def payment_problem(
    lines: tuple[OrderLine, ...],
    currency: str,
    paid_amount: int | None,
    paid_currency: str | None,
) -> str | None:
    """Why the cart payment does not match the items as sold, or None when it does."""
    if paid_currency is None or paid_currency.lower() != currency.lower():
        return "currency_mismatch"
    if paid_amount is None or paid_amount != sum(line.price for line in lines):
        return "amount_mismatch"
    return None


def decide_order(
    status: OrderStatus, *, sale_known: bool, paid: bool, problem: str | None
) -> OrderAction:
    """Settle an open order once it knows both what was sold and that it was paid."""
    if status is not OrderStatus.OPEN or not sale_known or not paid:
        return OrderAction.WAIT
    return OrderAction.CONFIRM if problem is None else OrderAction.FLAG
