"""The beats order of a checkout session, inside the caller's transaction: record, then settle once.

The payment service calls `apply_order` in the same transaction as the inbox claim (and, for a
mixed cart, the reservations' changes), so the order's change and its OrderConfirmedV1 outbox
row commit together or not at all. See domain.orders for why any arrival order converges.
"""

from __future__ import annotations

from datetime import datetime

from backbone.logging import bound_ids, get_logger
from reservation.adapters.metrics import ORDERS_FLAGGED
from reservation.adapters.orders import lines_of, lines_to_json
from reservation.adapters.tables import OrderRow
from reservation.domain.orders import (
    CartPayment,
    OrderAction,
    OrderDraft,
    OrderStatus,
    decide_order,
    payment_problem,
)
from reservation.service_layer.unit_of_work import UnitOfWork

log = get_logger(__name__)


async def apply_order(
    uow: UnitOfWork, draft: OrderDraft, payment: CartPayment | None, now: datetime
) -> None:
    """Record what `draft` (and `payment`, if the session is paid) say; settle when both known."""
    with bound_ids(order_id=draft.session_id, session_id=draft.session_id):
        row = await uow.orders.lock_or_create(draft)
        _record_sale(row, draft, now)
        if payment is not None:
            _record_payment(row, payment, now)
        lines = lines_of(row)
        problem = None
        if lines is not None and row.paid_at is not None:
            problem = payment_problem(lines, row.currency, row.paid_amount, row.paid_currency)
        action = decide_order(
            OrderStatus(row.status),
            sale_known=lines is not None,
            paid=row.paid_at is not None,
            problem=problem,
        )
        log.info(
            "order.decided",
            action=action.value,
            status=row.status,
            sale_known=lines is not None,
            paid=row.paid_at is not None,
        )
        if action is OrderAction.CONFIRM:
            row.status, row.confirmed_at, row.updated_at = OrderStatus.CONFIRMED, now, now
            uow.facts.order_confirmed(row)
        elif action is OrderAction.FLAG:
            assert problem is not None
            row.status, row.review_reason, row.updated_at = OrderStatus.NEEDS_REVIEW, problem, now
            ORDERS_FLAGGED.labels(problem).inc()
            # No fact fits an order (ReservationFlaggedForReviewV1 is about one reservation's
            # slot): the row, this log line and the metric are what an operator acts on.
            log.warning(
                "order.flagged_for_review",
                reason=problem,
                expected_amount=row.total,
                expected_currency=row.currency,
                paid_amount=row.paid_amount,
                paid_currency=row.paid_currency,
                payment_intent_id=row.payment_intent_id,
            )


def _record_sale(row: OrderRow, draft: OrderDraft, now: datetime) -> None:
    """Checkout's account of the sale wins over the metadata's (it names titles and prices)."""
    if draft.lines is None or row.items is not None:
        return
    row.items = lines_to_json(draft.lines)
    row.total, row.currency = draft.total, draft.currency.lower()
    row.user_email, row.updated_at = draft.user_email, now


def _record_payment(row: OrderRow, payment: CartPayment, now: datetime) -> None:
    """The first payment seen is the session's (a session is paid at most once)."""
    if row.paid_at is not None:
        return
    row.payment_intent_id = payment.payment_intent_id
    row.paid_amount = payment.amount
    row.paid_currency = payment.currency.lower() if payment.currency else None
    row.paid_at, row.updated_at = payment.paid_at, now
