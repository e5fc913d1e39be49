"""Refunds inside the caller's transaction: what Stripe says of one, and our own settled (a
reservation decides a refund itself, domain.reservation's RefundRequested, and the refund
executor calls Stripe after the commit); Stripe's are applied by
refund_apply once their payment is settled, whichever of the two arrives first.

Every transaction that touches a payment's refunds or settles the payment first takes the
payment's lock (`RefundStore.lock_payments`), so a refund recorded while its payment settles in
another transaction is seen by one of the two, never missed by both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backbone.logging import bound_ids, get_logger
from contracts.reservation import REFUND_REASON_CHARGE_REFUNDED
from reservation.domain.refunds import UNDONE, RefundStatus, moves
from reservation.service_layer.ports import RefundRecord, ReservationUnitOfWork
from reservation.service_layer.refund_apply import apply_waiting

log = get_logger(__name__)

# The metadata key our refunds carry in Stripe, so their events are recognised as ours.
REFUND_KEY_METADATA = "refund_key"


@dataclass(frozen=True)
class StripeRefund:
    """One refund as a Stripe event shows it."""

    stripe_refund_id: str
    payment_intent_id: str | None
    amount: int
    currency: str
    status: RefundStatus
    our_key: str | None = None  # metadata.refund_key: the request it answers, when ours
    failure_reason: str | None = None


@dataclass(frozen=True)
class ChargeRefunded:
    """charge.refunded naming none of its refunds (Stripe lists them only when expanded): how
    much of the payment went back, so the refunds we do not know yet are looked up."""

    charge_id: str
    payment_intent_id: str
    amount_refunded: int
    currency: str


@dataclass(frozen=True)
class RefundSignal:
    """What a refund.* or charge.* event says of refunds (charge.refunded lists them only when
    expanded, else says how much went back; refund.* events always carry the one refund)."""

    event_id: str
    refunds: tuple[StripeRefund, ...]
    correlation_id: str | None = None
    event_created: datetime | None = None
    charges: tuple[ChargeRefunded, ...] = ()

    @property
    def payment_intent_ids(self) -> list[str]:
        """The payments whose lock the signal needs."""
        ids = [r.payment_intent_id for r in self.refunds if r.payment_intent_id]
        return ids + [c.payment_intent_id for c in self.charges]


async def settle_ours(
    uow: ReservationUnitOfWork,
    row: RefundRecord,
    stripe_refund_id: str,
    status: RefundStatus,
    now: datetime,
) -> str | None:
    """Stripe answered our request, or an event told of it first: record it; the first time the
    money is on its way back, change the reservation and publish the fact. The outcome to count,
    if this moved the refund."""
    row.stripe_refund_id = row.stripe_refund_id or stripe_refund_id
    if not moves(RefundStatus(row.status), status):
        return None
    row.status, row.updated_at = status.value, now
    if status in UNDONE:
        log.error("refund.failed", refund_key=row.key, stripe_refund_id=stripe_refund_id)
        return status.value
    if row.applied_at is not None or row.reservation_id is None:
        return status.value
    row.applied_at = now
    [reservation] = await uow.repo.lock_many([row.reservation_id])
    reservation.refund_ours(
        refund_id=stripe_refund_id,
        amount=row.amount,
        currency=row.currency,
        reason=row.reason,
        session_id=row.session_id,
        payment_intent_id=row.payment_intent_id,
        now=now,
    )
    with uow.facts.correlated(row.correlation_id):
        await uow.publish()
    return status.value


async def record_stripe_refund(
    uow: ReservationUnitOfWork, refund: StripeRefund, now: datetime
) -> None:
    """Record what Stripe says of one refund (any order, any number of times) and apply it."""
    with bound_ids(stripe_refund_id=refund.stripe_refund_id):
        row = await uow.refunds.by_stripe_id(refund.stripe_refund_id)
        if row is None and refund.our_key:
            row = await uow.refunds.get(refund.our_key)
        if row is not None and row.origin == "ours":
            outcome = await settle_ours(uow, row, refund.stripe_refund_id, refund.status, now)
            if outcome in {s.value for s in UNDONE}:
                uow.observer.refund_outcome(str(outcome))
            return
        if refund.payment_intent_id is None:
            log.info("refund.without_payment_intent")
            return
        uow.refunds.recorded(refund.payment_intent_id)
        if row is None:
            uow.refunds.observe(
                stripe_refund_id=refund.stripe_refund_id,
                payment_intent_id=refund.payment_intent_id,
                amount=refund.amount,
                currency=refund.currency,
                status=refund.status,
                reason=REFUND_REASON_CHARGE_REFUNDED,
            )
            uow.observer.refund_outcome("observed")
        elif moves(RefundStatus(row.status), refund.status):
            row.status, row.updated_at = refund.status.value, now
        if refund.status in UNDONE:
            log.error("refund.failed", payment_intent_id=refund.payment_intent_id)
            uow.observer.refund_outcome(refund.status.value)
        await apply_waiting(uow, refund.payment_intent_id, now)
        await uow.publish()
