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

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from backbone.logging import get_logger
from contracts.reservation import FactBase, PaymentDisputeClosedV1, PaymentDisputedV1
from reservation.adapters import disputes as queries
from reservation.adapters.metrics import FUNNEL
from reservation.adapters.money_metrics import DECLINES, DISPUTES, decline_label
from reservation.adapters.tables import DisputeRow, OrderRow, ReservationRow
from reservation.domain.disputes import DisputeStage, dispute_advances, dispute_stage, on_dispute
from reservation.domain.model import Status
from reservation.domain.orders import OrderStatus
from reservation.service_layer.unit_of_work import UnitOfWork

log = get_logger(__name__)

# The key of a dispute's outcome in the `actions` PaymentService reports for a signal.
DISPUTE_ACTION = "dispute"
DECLINED = "declined"
_PAID_RESERVATION = frozenset({Status.SUCCEEDED.value, Status.NEEDS_REVIEW.value})
_PAID_ORDER = frozenset({OrderStatus.CONFIRMED.value, OrderStatus.NEEDS_REVIEW.value})


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


async def apply_dispute(uow: UnitOfWork, signal: DisputeSignal, now: datetime) -> dict[str, str]:
    """Record the dispute and move what it paid for; the actions (id -> action) for the audit."""
    reservations: list[ReservationRow] = []
    orders: list[OrderRow] = []
    if signal.payment_intent_id is not None:
        # Reservations first, then orders, then the dispute: the lock order everywhere.
        reservations = await uow.repo.by_payment_intent(signal.payment_intent_id)
        orders = await queries.orders_paid_by(uow.session, signal.payment_intent_id)
    stage = signal.stage
    row, created = await queries.lock_or_create(uow.session, _row_of(signal))
    known = None if created else DisputeStage(row.stage)
    if not dispute_advances(known, stage):
        return {DISPUTE_ACTION: "nothing"}
    row.stage, row.stripe_status, row.updated_at = stage.value, signal.stripe_status, now
    actions = {DISPUTE_ACTION: _label(stage)}
    for reservation in reservations:
        moved = on_dispute(
            reservation.status,
            reservation.status_before_dispute,
            stage,
            paid=_PAID_RESERVATION,
            disputed=Status.DISPUTED.value,
            lost=Status.DISPUTE_LOST.value,
        )
        reservation.dispute_id = signal.dispute_id
        if moved is not None:
            reservation.status, reservation.status_before_dispute = moved.status, moved.before
            reservation.updated_at = now
            actions[reservation.id] = moved.status
    for order in orders:
        moved = on_dispute(
            order.status,
            order.status_before_dispute,
            stage,
            paid=_PAID_ORDER,
            disputed=OrderStatus.DISPUTED.value,
            lost=OrderStatus.DISPUTE_LOST.value,
        )
        order.dispute_id = signal.dispute_id
        if moved is not None:
            order.status, order.status_before_dispute = moved.status, moved.before
            order.updated_at = now
            actions[order.session_id] = moved.status
    fact = _fact(signal, stage, reservations, orders)
    if fact is None:
        # Nothing of ours is paid by it (another integration, or a payment not applied yet):
        # the row, the metric and this line are what an operator has.
        log.warning("dispute.unmatched", dispute_id=signal.dispute_id, stage=stage.value)
    else:
        uow.facts.write(fact)
    return actions


def _label(stage: DisputeStage) -> str:
    return "opened" if stage is DisputeStage.OPEN else stage.value


def _row_of(signal: DisputeSignal) -> DisputeRow:
    return DisputeRow(
        dispute_id=signal.dispute_id,
        charge_id=signal.charge_id,
        payment_intent_id=signal.payment_intent_id,
        amount=signal.amount,
        currency=signal.currency.lower(),
        reason=signal.reason,
        stage=signal.stage.value,
        stripe_status=signal.stripe_status,
    )


def _fact(
    signal: DisputeSignal,
    stage: DisputeStage,
    reservations: list[ReservationRow],
    orders: list[OrderRow],
) -> FactBase | None:
    payer = reservations[0] if reservations else (orders[0] if orders else None)
    if payer is None:
        return None
    common: dict[str, object] = {
        "event_id": uuid.uuid4(),
        "occurred_at": datetime.now(UTC),
        "correlation_id": signal.correlation_id,
        "user_id": payer.user_id,
        "user_email": payer.user_email,
        "dispute_id": signal.dispute_id,
        "payment_intent_id": signal.payment_intent_id,
        "charge_id": signal.charge_id,
        "amount": signal.amount,
        "currency": signal.currency,
        "reason": signal.reason,
        "stripe_status": signal.stripe_status,
        "reservation_ids": [r.id for r in reservations],
        "order_id": orders[0].session_id if orders else None,
    }
    if stage is DisputeStage.OPEN:
        return PaymentDisputedV1.model_validate(
            {**common, "evidence_due_by": signal.evidence_due_by}
        )
    return PaymentDisputeClosedV1.model_validate({**common, "outcome": stage.value})


def committed(signal: DisputeSignal | PaymentDeclined, actions: dict[str, str]) -> None:
    """Metrics and the audit line of a dispute or decline whose transaction committed."""
    if isinstance(signal, PaymentDeclined):
        code = decline_label(signal.decline_code)
        FUNNEL.labels(DECLINED).inc()
        DECLINES.labels(code).inc()
        log.info("payment.declined", payment_intent_id=signal.payment_intent_id, decline_code=code)
        return
    outcome = actions.get(DISPUTE_ACTION, "nothing")
    if outcome != "nothing":
        DISPUTES.labels(outcome).inc()
    log.warning(
        "payment.dispute",
        dispute_id=signal.dispute_id,
        payment_intent_id=signal.payment_intent_id,
        stripe_status=signal.stripe_status,
        reason=signal.reason,
        actions=actions,
    )
