"""Refunds Stripe reported only as an amount (charge.refunded without its refunds listed):
recorded as a look-up in the worker's transaction, looked up by the refund executor after it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backbone.logging import get_logger
from contracts.reservation import REFUND_REASON_CHARGE_REFUNDED
from reservation.domain.refunds import COUNTED, RefundStatus
from reservation.service_layer.ports import ReservationUnitOfWork
from reservation.service_layer.refund_events import stripe_refund
from reservation.service_layer.refunds import ChargeRefunded, record_stripe_refund

log = get_logger(__name__)


async def request_lookup(uow: ReservationUnitOfWork, charge: ChargeRefunded) -> None:
    """Ask the executor to read the charge's refunds when we know of less than it says went
    back (the caller holds the payment's lock)."""
    known = await uow.refunds.of_payment(charge.payment_intent_id, ("stripe", "ours"))
    counted = sum(r.amount for r in known if RefundStatus(r.status) in COUNTED)
    if counted >= charge.amount_refunded:
        return
    key = f"lookup:{charge.charge_id}:{charge.amount_refunded}"
    await uow.refunds.request(
        key=key,
        origin="lookup",
        payment_intent_id=charge.payment_intent_id,
        amount=charge.amount_refunded,
        currency=charge.currency,
        reason=REFUND_REASON_CHARGE_REFUNDED,
        charge_id=charge.charge_id,
    )
    log.info("refund.lookup_requested", refund_key=key, known=counted)


async def record_lookup(
    uow: ReservationUnitOfWork, key: str, found: list[dict[str, Any]], now: datetime
) -> bool:
    """Record the refunds the charge listed, as if their events had come; the look-up is done.
    False if another round recorded it meanwhile."""
    row = await uow.refunds.get(key)
    if row is None or row.status != RefundStatus.REQUESTED.value:
        return False
    for obj in found:
        await record_stripe_refund(
            uow, stripe_refund({"payment_intent": row.payment_intent_id, **obj}), now
        )
    row.status, row.applied_at, row.updated_at = RefundStatus.SUCCEEDED.value, now, now
    return True
