"""Disputes and card declines applied by the worker, inside PaymentService's transaction.

`charge.dispute.created` marks what the payment paid for `disputed` and publishes
PaymentDisputedV1 (the notifier e-mails the operator); `charge.dispute.closed` records won or
lost (domain.disputes says what each does to the slot) and publishes PaymentDisputeClosedV1.
A dispute is found by its payment intent; every dispute is kept in `disputes` even when no
reservation or order of ours is paid by it. `payment_intent.payment_failed` (a declined card;
Stripe's page stays open for another try) changes no row: it is claimed in the inbox and counted
once, by decline code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backbone.logging import get_logger
from reservation.domain.disputes import DisputeStage, dispute_advances, dispute_stage
from reservation.domain.events import DisputeMoved
from reservation.domain.orders import Order
from reservation.domain.reservation import Reservation
from reservation.service_layer.ports import PaymentObserver, ReservationUnitOfWork

log = get_logger(__name__)

# The key of a dispute's outcome in the `actions` PaymentService reports for a signal.
DISPUTE_ACTION = "dispute"


@dataclass(frozen=True)
class DisputeSignal:
    """What a charge.dispute.* event says about one dispute."""

    event_id: str
    dispute_id: str
    charge_id: str | None
    payment_intent_id: str | None
    amount: int
    currency: str
    reason: str | None
    stripe_status: str
    evidence_due_by: datetime | None = None
    correlation_id: str | None = None
    event_created: datetime | None = None

    @property
    def stage(self) -> DisputeStage:
        """How far the dispute got, by Stripe's status."""
        return dispute_stage(self.stripe_status)


@dataclass(frozen=True)
class PaymentDeclined:
    """A payment_intent.payment_failed event: a card declined on Stripe's page."""

    event_id: str
    payment_intent_id: str
    decline_code: str | None
    correlation_id: str | None = None
    event_created: datetime | None = None


async def apply_dispute(
    uow: ReservationUnitOfWork, signal: DisputeSignal, now: datetime
) -> dict[str, str]:
    """Record the dispute and move what it paid for; the actions (id -> action) for the audit."""
    reservations: list[Reservation] = []
    orders: list[Order] = []
    if signal.payment_intent_id is not None:
        # Reservations first, then orders, then the dispute: the lock order everywhere.
        reservations = await uow.repo.by_payment_intent(signal.payment_intent_id)
        orders = await uow.orders.paid_by(signal.payment_intent_id)
    stage = signal.stage
    known = await uow.disputes.lock_or_create(
        dispute_id=signal.dispute_id,
        charge_id=signal.charge_id,
        payment_intent_id=signal.payment_intent_id,
        amount=signal.amount,
        currency=signal.currency,
        reason=signal.reason,
        stage=stage,
        stripe_status=signal.stripe_status,
    )
    if not dispute_advances(known, stage):
        return {DISPUTE_ACTION: "nothing"}
    await uow.disputes.move(signal.dispute_id, stage, signal.stripe_status, now)
    actions = {DISPUTE_ACTION: _label(stage)}
    for reservation in reservations:
        moved = reservation.dispute(signal.dispute_id, stage, now)
        if moved is not None:
            actions[reservation.id] = moved
    for order in orders:
        moved = order.dispute(signal.dispute_id, stage, now)
        if moved is not None:
            actions[order.session_id] = moved
    payer = reservations[0] if reservations else (orders[0] if orders else None)
    if payer is None:
        # Nothing of ours is paid by it (another integration, or a payment not applied yet):
        # the row, the metric and this line are what an operator has.
        log.warning("dispute.unmatched", dispute_id=signal.dispute_id, stage=stage.value)
    else:
        uow.record(
            DisputeMoved(
                dispute_id=signal.dispute_id,
                stage=stage.value,
                user_id=payer.user_id,
                user_email=payer.user_email,
                payment_intent_id=signal.payment_intent_id,
                charge_id=signal.charge_id,
                amount=signal.amount,
                currency=signal.currency,
                reason=signal.reason,
                stripe_status=signal.stripe_status,
                reservation_ids=tuple(r.id for r in reservations),
                order_id=orders[0].session_id if orders else None,
                evidence_due_by=signal.evidence_due_by,
            )
        )
    await uow.publish()
    return actions


def _label(stage: DisputeStage) -> str:
    return "opened" if stage is DisputeStage.OPEN else stage.value


def committed(
    observer: PaymentObserver, signal: DisputeSignal | PaymentDeclined, actions: dict[str, str]
) -> None:
    """Metrics and the audit line of a dispute or decline whose transaction committed."""
    if isinstance(signal, PaymentDeclined):
        code = observer.declined(signal.decline_code)
        log.info("payment.declined", payment_intent_id=signal.payment_intent_id, decline_code=code)
        return
    outcome = actions.get(DISPUTE_ACTION, "nothing")
    if outcome != "nothing":
        observer.dispute(outcome)
    log.warning(
        "payment.dispute",
        dispute_id=signal.dispute_id,
        payment_intent_id=signal.payment_intent_id,
        stripe_status=signal.stripe_status,
        reason=signal.reason,
        actions=actions,
    )
