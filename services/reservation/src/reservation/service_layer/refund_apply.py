"""Refunds Stripe told of, applied to what their payment paid once it is settled: all of it
releases every reservation and order, part of it leaves them standing and records the amount.

Called with the payment's lock held (RefundStore.lock_payments), by the worker when a refund's
news or the payment itself arrives, and by the refund executor after a look-up.
"""

from __future__ import annotations

from datetime import datetime

from backbone.logging import get_logger
from contracts.reservation import REFUND_REASON_CHARGE_REFUNDED
from reservation.adapters.tables import OrderRow, RefundRow, ReservationRow
from reservation.domain.model import Status
from reservation.domain.orders import OrderStatus
from reservation.domain.refunds import COUNTED, RefundStatus, share
from reservation.service_layer.unit_of_work import UnitOfWork

log = get_logger(__name__)

_PAID = (Status.SUCCEEDED.value, Status.NEEDS_REVIEW.value)
_ORDER_PAID = (OrderStatus.CONFIRMED.value, OrderStatus.NEEDS_REVIEW.value)


async def apply_waiting(uow: UnitOfWork, payment_intent_id: str, now: datetime) -> None:
    """Apply the refunds Stripe told us of that wait for this payment, once it is settled: a
    refund of all of it releases every reservation and order it paid, a partial one leaves them
    standing and records the amount. The caller holds the payment's lock."""
    if not uow.refunds.might_wait(payment_intent_id):
        return
    refunds = await uow.refunds.of_payment(payment_intent_id)
    waiting = [r for r in refunds if r.applied_at is None and RefundStatus(r.status) in COUNTED]
    if not waiting:
        return
    await uow.session.flush()  # this transaction's settling must be visible to the queries
    rows = [r for r in await uow.repo.by_payment_intent(payment_intent_id) if r.status in _PAID]
    orders = [
        o for o in await uow.refunds.orders_paid_by(payment_intent_id) if o.status in _ORDER_PAID
    ]
    if not rows and not orders:
        log.info("refund.waits_for_payment", payment_intent_id=payment_intent_id)
        return
    paid = sum(_paid(r) for r in rows) + sum(o.paid_amount or 0 for o in orders)
    before = sum(
        r.amount for r in refunds if r.applied_at is not None and RefundStatus(r.status) in COUNTED
    )
    for refund in waiting:
        effect = share(refund.amount, before, paid)
        before, refund.applied_at = effect.refunded_total, now
        refund_id = str(refund.stripe_refund_id)
        if effect.full:
            for row in rows:
                _full(uow, row, refund, now)
            for order in orders:
                _order(uow, order, refund_id, _left(order), partial=False, now=now)
            rows, orders = [], []
        elif rows:
            row = rows[0]
            row.refunded_amount = (row.refunded_amount or 0) + refund.amount
            row.updated_at = now
            _fact(uow, row, refund, refund.amount, partial=True, total=effect.refunded_total)
        elif orders:
            _order(uow, orders[0], refund_id, refund.amount, partial=True, now=now)


def _paid(row: ReservationRow) -> int:
    return row.paid_amount if row.paid_amount is not None else row.amount


def _left(order: OrderRow) -> int:
    return max((order.paid_amount or 0) - (order.refunded_amount or 0), 0)


def _full(uow: UnitOfWork, row: ReservationRow, refund: RefundRow, now: datetime) -> None:
    left = max(_paid(row) - (row.refunded_amount or 0), 0)
    row.status, row.refund_id = Status.REFUNDED, refund.stripe_refund_id
    row.refunded_amount, row.refunded_at, row.updated_at = _paid(row), now, now
    log.info("payment.refunded_in_stripe", reservation_id=row.id, session_id=row.paid_session_id)
    _fact(uow, row, refund, left, partial=False, total=row.refunded_amount)


def _fact(
    uow: UnitOfWork,
    row: ReservationRow,
    refund: RefundRow,
    amount: int,
    *,
    partial: bool,
    total: int,
) -> None:
    uow.facts.refunded(
        row,
        amount=amount,
        currency=row.paid_currency or refund.currency,
        refund_id=str(refund.stripe_refund_id),
        reason=refund.reason,
        session_id=row.paid_session_id,
        payment_intent_id=refund.payment_intent_id,
        partial=partial,
        refunded_total=total,
    )


def _order(
    uow: UnitOfWork, order: OrderRow, refund_id: str, amount: int, *, partial: bool, now: datetime
) -> None:
    order.refunded_amount = (order.refunded_amount or 0) + amount
    order.refund_id, order.refunded_at, order.updated_at = refund_id, now, now
    if not partial:
        order.status = OrderStatus.REFUNDED.value
    log.info("order.refunded", order_id=order.session_id, partial=partial)
    uow.facts.order_refunded(
        order,
        amount=amount,
        refund_id=refund_id,
        reason=REFUND_REASON_CHARGE_REFUNDED,
        partial=partial,
    )
