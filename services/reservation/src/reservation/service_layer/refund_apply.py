"""Refunds Stripe told of, applied to what their payment paid once it is settled: all of it
releases every reservation and order, part of it leaves them standing and records the amount.

Called with the payment's lock held (RefundStore.lock_payments), by the worker when a refund's
news or the payment itself arrives, and by the refund executor after a look-up.
"""

from __future__ import annotations

from datetime import datetime

from backbone.logging import get_logger
from contracts.reservation import REFUND_REASON_CHARGE_REFUNDED
from reservation.domain.refunds import COUNTED, RefundStatus, share
from reservation.service_layer.ports import ReservationUnitOfWork

log = get_logger(__name__)


async def apply_waiting(uow: ReservationUnitOfWork, payment_intent_id: str, now: datetime) -> None:
    """Apply the refunds Stripe told us of that wait for this payment, once it is settled: a
    refund of all of it releases every reservation and order it paid, a partial one leaves them
    standing and records the amount. The caller holds the payment's lock."""
    if not uow.refunds.might_wait(payment_intent_id):
        return
    refunds = await uow.refunds.of_payment(payment_intent_id)
    waiting = [r for r in refunds if r.applied_at is None and RefundStatus(r.status) in COUNTED]
    if not waiting:
        return
    reservations = [r for r in await uow.repo.by_payment_intent(payment_intent_id) if r.is_paid]
    orders = [o for o in await uow.orders.paid_by(payment_intent_id) if o.is_paid]
    if not reservations and not orders:
        log.info("refund.waits_for_payment", payment_intent_id=payment_intent_id)
        return
    paid = sum(r.paid_total for r in reservations) + sum(o.paid_amount or 0 for o in orders)
    before = sum(
        r.amount for r in refunds if r.applied_at is not None and RefundStatus(r.status) in COUNTED
    )
    for refund in waiting:
        effect = share(refund.amount, before, paid)
        before, refund.applied_at = effect.refunded_total, now
        refund_id = str(refund.stripe_refund_id)
        if effect.full:
            for reservation in reservations:
                reservation.refund_in_full(
                    refund_id=refund_id,
                    currency=refund.currency,
                    reason=refund.reason,
                    payment_intent_id=refund.payment_intent_id,
                    now=now,
                )
                log.info(
                    "payment.refunded_in_stripe",
                    reservation_id=reservation.id,
                    session_id=reservation.paid_session_id,
                )
            for order in orders:
                _order_refunded(order.session_id, partial=False)
                order.refund(
                    refund_id=refund_id,
                    amount=order.left,
                    reason=REFUND_REASON_CHARGE_REFUNDED,
                    partial=False,
                    now=now,
                )
            reservations, orders = [], []
        elif reservations:
            reservations[0].refund_part(
                amount=refund.amount,
                refund_id=refund_id,
                currency=refund.currency,
                reason=refund.reason,
                payment_intent_id=refund.payment_intent_id,
                refunded_total=effect.refunded_total,
                now=now,
            )
        elif orders:
            _order_refunded(orders[0].session_id, partial=True)
            orders[0].refund(
                refund_id=refund_id,
                amount=refund.amount,
                reason=REFUND_REASON_CHARGE_REFUNDED,
                partial=True,
                now=now,
            )


def _order_refunded(order_id: str, *, partial: bool) -> None:
    log.info("order.refunded", order_id=order_id, partial=partial)
