"""Refunds inside the caller's transaction: decide one (Stripe is called after the commit, by the
refund executor), record what Stripe says of one, and settle our own; Stripe's are applied by
refund_apply once their payment is settled, whichever of the two arrives first.

Every transaction that touches a payment's refunds or settles the payment first takes the
payment's lock (`RefundStore.lock_payments`), so a refund recorded while its payment settles in
another transaction is seen by one of the two, never missed by both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backbone.logging import bound_ids, get_logger
from contracts.reservation import REFUND_REASON_CHARGE_REFUNDED, REFUND_REASON_DUPLICATE_PAYMENT
from reservation.adapters.metrics import REFUNDS
from reservation.adapters.tables import RefundRow, ReservationRow
from reservation.domain.model import Status
from reservation.domain.refunds import UNDONE, RefundStatus, moves, refund_key
from reservation.service_layer.refund_apply import apply_waiting
from reservation.service_layer.unit_of_work import UnitOfWork

log = get_logger(__name__)

# The metadata key our refunds carry in Stripe, so their events are recognised as ours.
REFUND_KEY_METADATA = "refund_key"
_RELEASED = (Status.EXPIRED.value, Status.CANCELLED.value)


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


async def request_refund(
    uow: UnitOfWork,
    row: ReservationRow,
    *,
    payment_intent_id: str,
    amount: int,
    currency: str,
    reason: str,
    session_id: str,
    correlation_id: str | None,
) -> None:
    """Record the decision to refund `row`'s payment by `session_id` (carried out after commit)."""
    key = refund_key(row.id, session_id)
    await uow.refunds.request(
        RefundRow(
            key=key,
            origin="ours",
            payment_intent_id=payment_intent_id,
            amount=amount,
            currency=currency.lower(),
            status=RefundStatus.REQUESTED.value,
            reason=reason,
            reservation_id=row.id,
            session_id=session_id,
            correlation_id=correlation_id,
        )
    )
    log.warning("refund.requested", refund_key=key, reason=reason, amount=amount)


async def settle_ours(
    uow: UnitOfWork, row: RefundRow, stripe_refund_id: str, status: RefundStatus, now: datetime
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
    if row.reason != REFUND_REASON_DUPLICATE_PAYMENT:
        # A duplicate payment's refund leaves the booking (and its own payment) as they were.
        reservation.refund_id, reservation.refunded_at = stripe_refund_id, now
        reservation.refunded_amount = (reservation.refunded_amount or 0) + row.amount
        reservation.updated_at = now
        if reservation.status in _RELEASED:
            # A late payment whose slot was taken: refunded now that Stripe has the refund. A
            # reservation another payment revived meanwhile keeps its booking.
            reservation.status = Status.REFUNDED
    with uow.facts.correlated(row.correlation_id):
        uow.facts.refunded(
            reservation,
            amount=row.amount,
            currency=row.currency,
            refund_id=stripe_refund_id,
            reason=row.reason,
            session_id=row.session_id,
            payment_intent_id=row.payment_intent_id,
        )
    return status.value


async def record_stripe_refund(uow: UnitOfWork, refund: StripeRefund, now: datetime) -> None:
    """Record what Stripe says of one refund (any order, any number of times) and apply it."""
    with bound_ids(stripe_refund_id=refund.stripe_refund_id):
        row = await uow.refunds.by_stripe_id(refund.stripe_refund_id)
        if row is None and refund.our_key:
            row = await uow.refunds.get(refund.our_key)
        if row is not None and row.origin == "ours":
            outcome = await settle_ours(uow, row, refund.stripe_refund_id, refund.status, now)
            if outcome in {s.value for s in UNDONE}:
                REFUNDS.labels(outcome).inc()
            return
        if refund.payment_intent_id is None:
            log.info("refund.without_payment_intent")
            return
        uow.refunds.recorded(refund.payment_intent_id)
        if row is None:
            row = RefundRow(
                key=f"stripe:{refund.stripe_refund_id}",
                origin="stripe",
                stripe_refund_id=refund.stripe_refund_id,
                payment_intent_id=refund.payment_intent_id,
                amount=refund.amount,
                currency=refund.currency.lower(),
                status=refund.status.value,
                reason=REFUND_REASON_CHARGE_REFUNDED,
            )
            uow.refunds.add(row)
            REFUNDS.labels("observed").inc()
        elif moves(RefundStatus(row.status), refund.status):
            row.status, row.updated_at = refund.status.value, now
        if refund.status in UNDONE:
            log.error("refund.failed", payment_intent_id=refund.payment_intent_id)
            REFUNDS.labels(refund.status.value).inc()
        await apply_waiting(uow, refund.payment_intent_id, now)
