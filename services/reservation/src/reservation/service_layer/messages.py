"""What Stripe's events and checkout's facts mean here: the signal (command) each one becomes.

No Kafka in here: adapters.records reads the records (topics, headers, bytes) and hands over
the parsed contract models; the overdue look-up and the scheduled reconciliation hand over the
events they rebuild from Stripe's answers. A malformed Stripe object raises pydantic's
ValidationError (the caller decides what that means: a dead letter for a record).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError

from backbone.logging import get_logger
from contracts import stripe as s
from contracts.checkout import CheckoutSessionCreatedV1, ReservationCheckoutMetadata
from contracts.stripe import StripeEvent
from contracts.stripe_objects import CheckoutSessionObject, DisputeObject, PaymentIntentObject
from reservation.domain.orders import OrderDraft, OrderLine
from reservation.domain.payments import Stage
from reservation.service_layer.disputes import DisputeSignal, PaymentDeclined
from reservation.service_layer.observers import SESSION_CREATED, STEP_OF_EVENT
from reservation.service_layer.payments import SessionSignal, Signal, Unhandled
from reservation.service_layer.refund_events import refund_signal

log = get_logger(__name__)


def _utc(seconds: int | None, fallback: int) -> datetime:
    return datetime.fromtimestamp(seconds if seconds is not None else fallback, UTC)


def _stage(event: StripeEvent, session: CheckoutSessionObject) -> Stage | None:
    if event.type == s.CHECKOUT_SESSION_COMPLETED:
        paid = session.payment_status in ("paid", "no_payment_required")
        return Stage.PAID if paid else Stage.AWAITING
    return {
        s.CHECKOUT_SESSION_ASYNC_PAYMENT_SUCCEEDED: Stage.PAID,
        s.CHECKOUT_SESSION_ASYNC_PAYMENT_FAILED: Stage.FAILED,
        s.CHECKOUT_SESSION_EXPIRED: Stage.EXPIRED,
    }.get(event.type)


def _order_from_metadata(
    session: CheckoutSessionObject, metadata: ReservationCheckoutMetadata
) -> OrderDraft | None:
    # Stripe's metadata names the beats and their total but not titles or prices: the order
    # waits for checkout's fact to know what it sold (domain.orders).
    if not metadata.cart_item_ids:
        return None
    return OrderDraft(
        session_id=session.id,
        user_id=metadata.user_id,
        user_email=metadata.user_email,
        cart_item_ids=tuple(metadata.cart_item_ids),
        lines=None,
        total=metadata.cart_total,
        currency=session.currency or "",
    )


def _order_from_fact(fact: CheckoutSessionCreatedV1) -> OrderDraft | None:
    if not fact.cart_item_ids:
        return None
    if not fact.cart_items:
        # A checkout older than cart_items: the order is recorded but cannot be confirmed.
        log.warning("order.items_unknown", session_id=fact.session_id)
    return OrderDraft(
        session_id=fact.session_id,
        user_id=fact.user_id,
        user_email=fact.user_email,
        cart_item_ids=tuple(fact.cart_item_ids),
        lines=tuple(OrderLine(i.item_id, i.title, i.price) for i in fact.cart_items) or None,
        total=fact.cart_total,
        currency=fact.currency,
    )


def session_signal(event: StripeEvent, correlation_id: str | None = None) -> SessionSignal | None:
    """The signal of a checkout.session.* event, or None when the session is not one of ours."""
    session = CheckoutSessionObject.from_event(event)
    stage = _stage(event, session)
    if stage is None:
        return None
    try:
        metadata = ReservationCheckoutMetadata.from_stripe_metadata(session.metadata)
    except ValidationError:
        return None  # a session another integration made on the same Stripe account
    failure = "the delayed payment failed" if stage is Stage.FAILED else "the payment failed"
    return SessionSignal(
        event_id=event.id,
        session_id=session.id,
        session_created=_utc(session.created, event.created),
        stage=stage,
        reservation_ids=list(metadata.reservation_ids),
        payment_intent_id=session.payment_intent,
        amount_total=session.amount_total,
        currency=session.currency,
        cart_total=metadata.cart_total,
        services_total=metadata.services_total,
        paid_at=_utc(event.created, event.created) if stage is Stage.PAID else None,
        failure_reason=failure,
        correlation_id=correlation_id or session.id,
        step=STEP_OF_EVENT.get(event.type),
        event_created=_utc(event.created, event.created),
        order=_order_from_metadata(session, metadata),
    )


def checkout_signal(fact: CheckoutSessionCreatedV1) -> SessionSignal:
    """Checkout opened a session for these reservations and beats."""
    # Whole seconds, as Stripe's own `created`, so both sources order sessions alike.
    created = fact.occurred_at.astimezone(UTC).replace(microsecond=0)
    return SessionSignal(
        event_id=str(fact.event_id),
        session_id=fact.session_id,
        session_created=created,
        stage=Stage.OPEN,
        reservation_ids=list(fact.reservation_ids),
        amount_total=fact.order_total,  # what checkout asked Stripe for (provenance)
        currency=fact.currency,
        correlation_id=fact.correlation_id or fact.session_id,
        step=SESSION_CREATED,
        order=_order_from_fact(fact),
        expires_at=fact.expires_at,
    )


def stripe_signal(event: StripeEvent, correlation_id: str | None = None) -> Signal:
    """The signal of a Stripe event; Unhandled for a type we do not act on (or a session that
    is not ours). ValidationError when the event's object is malformed."""
    if event.type.startswith(s.CHECKOUT_SESSION_PREFIX):
        signal = session_signal(event, correlation_id)
        if signal is not None:
            return signal
    elif event.type == s.CHARGE_REFUNDED or event.type in s.REFUND_EVENT_TYPES:
        return refund_signal(event, correlation_id)
    elif event.type in (s.CHARGE_DISPUTE_CREATED, s.CHARGE_DISPUTE_CLOSED):
        return _dispute(event, correlation_id)
    elif event.type == s.PAYMENT_INTENT_PAYMENT_FAILED:
        return _declined(event, correlation_id)
    # Unknown or irrelevant types are acknowledged and ignored.
    return Unhandled(event.id, correlation_id)


def _dispute(event: StripeEvent, correlation_id: str | None) -> DisputeSignal:
    dispute = DisputeObject.from_event(event)
    due = dispute.evidence_details.due_by if dispute.evidence_details else None
    return DisputeSignal(
        event.id,
        dispute_id=dispute.id,
        charge_id=dispute.charge,
        payment_intent_id=dispute.payment_intent,
        amount=dispute.amount,
        currency=dispute.currency,
        reason=dispute.reason,
        stripe_status=dispute.status,
        evidence_due_by=_utc(due, 0) if due is not None else None,
        correlation_id=correlation_id or dispute.payment_intent or dispute.id,
        event_created=_utc(event.created, event.created),
    )


def _declined(event: StripeEvent, correlation_id: str | None) -> PaymentDeclined:
    intent = PaymentIntentObject.from_event(event)
    error = intent.last_payment_error
    return PaymentDeclined(
        event.id,
        payment_intent_id=intent.id,
        decline_code=(error.decline_code or error.code) if error else None,
        correlation_id=correlation_id or intent.id,
        event_created=_utc(event.created, event.created),
    )
