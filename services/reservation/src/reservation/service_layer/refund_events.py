"""Stripe's refund news (refund.*, charge.refund.updated, charge.refunded) as one signal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts import stripe as s
from contracts.stripe import StripeEvent
from contracts.stripe_objects import ChargeWithRefunds, RefundObject
from reservation.domain.refunds import stripe_status
from reservation.service_layer.refunds import (
    REFUND_KEY_METADATA,
    ChargeRefunded,
    RefundSignal,
    StripeRefund,
)


def stripe_refund(obj: dict[str, Any]) -> StripeRefund:
    """One Stripe refund object as the service layer reads it."""
    refund = RefundObject.model_validate(obj)
    return StripeRefund(
        stripe_refund_id=refund.id,
        payment_intent_id=refund.payment_intent,
        amount=refund.amount,
        currency=refund.currency,
        status=stripe_status(refund.status),
        our_key=refund.metadata.get(REFUND_KEY_METADATA),
        failure_reason=refund.failure_reason,
    )


def refund_signal(event: StripeEvent, correlation_id: str | None) -> RefundSignal:
    """The refunds an event tells of. charge.refunded lists them only when the charge's refunds
    were expanded (Stripe's default leaves the list empty): then it says how much went back, and
    what we do not know of yet is looked up at Stripe after the commit (refund_lookup)."""
    charges: tuple[ChargeRefunded, ...] = ()
    if event.type == s.CHARGE_REFUNDED:
        charge = ChargeWithRefunds.from_event(event)
        listed = charge.refunds.data if charge.refunds is not None else []
        refunds = tuple(
            stripe_refund({"payment_intent": charge.payment_intent, **r}) for r in listed
        )
        if not refunds and charge.payment_intent is not None:
            pi = charge.payment_intent
            charges = (ChargeRefunded(charge.id, pi, charge.amount_refunded, charge.currency),)
    else:
        refunds = (stripe_refund(event.data_object),)
    return RefundSignal(
        event.id,
        refunds,
        correlation_id=correlation_id,
        event_created=datetime.fromtimestamp(event.created, UTC),
        charges=charges,
    )
