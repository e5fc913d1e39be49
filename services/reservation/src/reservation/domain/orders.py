"""Beats orders: one per checkout session with beats, confirmed once whatever the arrival order.

An order learns two things from two sources that arrive in either order, or twice:
- what was sold (titles, server-side prices) from checkout's CheckoutSessionCreatedV1;
- that it was paid (amount, currency, payment intent) from Stripe's session events.
Whichever comes first creates the order (`open`); the Stripe side alone knows only the cart ids
and the cart total of the session metadata, so it records the payment and waits. The order is
settled by the message that completes the pair, once: `confirmed` when the cart part of the
payment equals the sum of the items as sold, `needs_review` otherwise. Settled orders never move
but for refunds and disputes. `Order` is the aggregate: its methods change it and record events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from reservation.domain.disputes import DisputeStage, on_dispute
from reservation.domain.events import Event, OrderConfirmed, OrderFlagged, OrderRefunded


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


_PAID_ORDER = frozenset({OrderStatus.CONFIRMED.value, OrderStatus.NEEDS_REVIEW.value})


@dataclass(eq=False)
class Order:
    """The beats of one checkout session: what was sold, what was paid, the outcome."""

    session_id: str
    user_id: str
    user_email: str
    cart_item_ids: tuple[str, ...]
    lines: tuple[OrderLine, ...] | None
    total: int
    currency: str
    status: OrderStatus = OrderStatus.OPEN
    review_reason: str | None = None
    payment_intent_id: str | None = None
    paid_amount: int | None = None
    paid_currency: str | None = None
    paid_at: datetime | None = None
    confirmed_at: datetime | None = None
    dispute_id: str | None = None
    status_before_dispute: str | None = None
    refunded_amount: int | None = None
    refund_id: str | None = None
    refunded_at: datetime | None = None
    updated_at: datetime | None = None
    events: list[Event] = field(default_factory=list)

    @classmethod
    def open(cls, draft: OrderDraft) -> Order:
        """The order a session's first message creates."""
        return cls(
            session_id=draft.session_id,
            user_id=draft.user_id,
            user_email=draft.user_email,
            cart_item_ids=tuple(draft.cart_item_ids),
            lines=draft.lines,
            total=draft.total,
            currency=draft.currency.lower(),
        )

    @property
    def is_paid(self) -> bool:
        """Settled with a payment (confirmed or flagged): what refunds apply to."""
        return self.status.value in _PAID_ORDER

    @property
    def left(self) -> int:
        """What of its payment has not gone back yet."""
        return max((self.paid_amount or 0) - (self.refunded_amount or 0), 0)

    def record(self, draft: OrderDraft, payment: CartPayment | None, now: datetime) -> OrderAction:
        """Record what a message says (the sale, the payment); settle once both are known."""
        self._record_sale(draft, now)
        if payment is not None:
            self._record_payment(payment, now)
        problem = None
        if self.lines is not None and self.paid_at is not None:
            problem = payment_problem(
                self.lines, self.currency, self.paid_amount, self.paid_currency
            )
        action = decide_order(
            self.status,
            sale_known=self.lines is not None,
            paid=self.paid_at is not None,
            problem=problem,
        )
        if action is OrderAction.CONFIRM:
            assert self.lines, "an order is confirmed only once its items are known"
            self.status, self.confirmed_at, self.updated_at = OrderStatus.CONFIRMED, now, now
            self.events.append(
                OrderConfirmed(
                    self.session_id,
                    self.user_id,
                    self.user_email,
                    self.payment_intent_id,
                    self.lines,
                    self.currency,
                )
            )
        elif action is OrderAction.FLAG:
            assert problem is not None
            self.status, self.review_reason, self.updated_at = (
                OrderStatus.NEEDS_REVIEW,
                problem,
                now,
            )
            self.events.append(
                OrderFlagged(
                    self.session_id,
                    reason=problem,
                    expected_amount=self.total,
                    expected_currency=self.currency,
                    paid_amount=self.paid_amount,
                    paid_currency=self.paid_currency,
                    payment_intent_id=self.payment_intent_id,
                )
            )
        return action

    def _record_sale(self, draft: OrderDraft, now: datetime) -> None:
        """Checkout's account of the sale wins over the metadata's (it names titles, prices)."""
        if draft.lines is None or self.lines is not None:
            return
        self.lines = draft.lines
        self.total, self.currency = draft.total, draft.currency.lower()
        self.user_email, self.updated_at = draft.user_email, now

    def _record_payment(self, payment: CartPayment, now: datetime) -> None:
        """The first payment seen is the session's (a session is paid at most once)."""
        if self.paid_at is not None:
            return
        self.payment_intent_id = payment.payment_intent_id
        self.paid_amount = payment.amount
        self.paid_currency = payment.currency.lower() if payment.currency else None
        self.paid_at, self.updated_at = payment.paid_at, now

    def refund(
        self, *, refund_id: str, amount: int, reason: str, partial: bool, now: datetime
    ) -> None:
        """Money of its payment went back (all of it unless `partial`)."""
        self.refunded_amount = (self.refunded_amount or 0) + amount
        self.refund_id, self.refunded_at, self.updated_at = refund_id, now, now
        if not partial:
            self.status = OrderStatus.REFUNDED
        self.events.append(
            OrderRefunded(
                self.session_id,
                self.user_id,
                self.user_email,
                self.payment_intent_id,
                amount=amount,
                currency=self.paid_currency or self.currency,
                refund_id=refund_id,
                reason=reason,
                partial=partial,
            )
        )

    def dispute(self, dispute_id: str, stage: DisputeStage, now: datetime) -> str | None:
        """A dispute of its payment reached `stage`: the new status, None if unchanged."""
        self.dispute_id = dispute_id
        moved = on_dispute(
            self.status.value,
            self.status_before_dispute,
            stage,
            paid=_PAID_ORDER,
            disputed=OrderStatus.DISPUTED.value,
            lost=OrderStatus.DISPUTE_LOST.value,
        )
        if moved is None:
            return None
        self.status, self.status_before_dispute = OrderStatus(moved.status), moved.before
        self.updated_at = now
        return moved.status
