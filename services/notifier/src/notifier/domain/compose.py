"""One e-mail per fact: which template, to whom, with which subject and facts to show."""

from __future__ import annotations

from typing import Any

from contracts.reservation import (
    ORDER_CONFIRMED_V1,
    ORDER_REFUNDED_V1,
    PAYMENT_DISPUTE_CLOSED_V1,
    PAYMENT_DISPUTED_V1,
    REFUND_REASON_CHARGE_REFUNDED,
    REFUND_REASON_DUPLICATE_PAYMENT,
    REFUND_REASON_LATE_PAYMENT_SLOT_TAKEN,
    RESERVATION_CONFIRMED_V1,
    RESERVATION_EXPIRED_V1,
    RESERVATION_FLAGGED_FOR_REVIEW_V1,
    RESERVATION_PAYMENT_FAILED_V1,
    RESERVATION_REFUNDED_V1,
    OrderConfirmedV1,
    OrderRefundedV1,
    PaymentDisputeClosedV1,
    PaymentDisputedV1,
    ReservationConfirmedV1,
    ReservationExpiredV1,
    ReservationFact,
    ReservationFactBase,
    ReservationFlaggedForReviewV1,
    ReservationPaymentFailedV1,
    ReservationRefundedV1,
)
from notifier.domain.formatting import (
    format_moment,
    format_money,
    format_slot,
    one_line,
    safe_link,
)
from notifier.domain.model import Email

# Template names (templates/<name>.txt.j2 and templates/<name>.html.j2); also metric labels.
CONFIRMED = "reservation_confirmed"
PAYMENT_FAILED = "reservation_payment_failed"
EXPIRED = "reservation_expired"
REFUNDED = "reservation_refunded"
FLAGGED = "reservation_flagged_for_review"
ORDER_CONFIRMED = "order_confirmed"
DISPUTED = "payment_disputed"
DISPUTE_CLOSED = "payment_dispute_closed"
# A refund fact reads differently when the booking stands: an extra payment went back, or part of
# the payment did.
REFUNDED_DUPLICATE = "reservation_refunded_duplicate"
REFUNDED_PARTIAL = "reservation_refunded_partial"
ORDER_REFUNDED = "order_refunded"
TEMPLATES = (
    CONFIRMED,
    PAYMENT_FAILED,
    EXPIRED,
    REFUNDED,
    REFUNDED_DUPLICATE,
    REFUNDED_PARTIAL,
    FLAGGED,
    ORDER_CONFIRMED,
    ORDER_REFUNDED,
    DISPUTED,
    DISPUTE_CLOSED,
)
# Templates whose e-mail goes to the operator (NOTIFIER_OPERATOR_EMAIL), not to the user.
OPERATOR_TEMPLATES = frozenset({FLAGGED, DISPUTED, DISPUTE_CLOSED})
_TEMPLATE_BY_EVENT_TYPE = {
    RESERVATION_CONFIRMED_V1: CONFIRMED,
    RESERVATION_PAYMENT_FAILED_V1: PAYMENT_FAILED,
    RESERVATION_EXPIRED_V1: EXPIRED,
    RESERVATION_REFUNDED_V1: REFUNDED,
    RESERVATION_FLAGGED_FOR_REVIEW_V1: FLAGGED,
    ORDER_CONFIRMED_V1: ORDER_CONFIRMED,
    PAYMENT_DISPUTED_V1: DISPUTED,
    PAYMENT_DISPUTE_CLOSED_V1: DISPUTE_CLOSED,
    ORDER_REFUNDED_V1: ORDER_REFUNDED,
}

_REFUND_REASONS = {
    REFUND_REASON_LATE_PAYMENT_SLOT_TAKEN: (
        "Your payment arrived after the time slot had been given to someone else, so we"
        " refunded it in full."
    ),
    REFUND_REASON_CHARGE_REFUNDED: "A refund was issued for your payment.",
    REFUND_REASON_DUPLICATE_PAYMENT: (
        "You paid twice for this booking. Your booking stands, paid once; we refunded the extra"
        " payment in full."
    ),
}


def template_for(event_type: object) -> str | None:
    """The template used for facts of `event_type` (its main one: a refund fact may pick a
    variant, see `refund_template`), None for a type we send nothing for."""
    return _TEMPLATE_BY_EVENT_TYPE.get(event_type) if isinstance(event_type, str) else None


def refund_template(fact: ReservationRefundedV1) -> str:
    """Which refund e-mail: the booking is gone (full), or stands (a duplicate, a partial)."""
    if fact.reason == REFUND_REASON_DUPLICATE_PAYMENT:
        return REFUNDED_DUPLICATE
    return REFUNDED_PARTIAL if fact.partial else REFUNDED


def _reservation(fact: ReservationFactBase) -> dict[str, Any]:
    return {
        "reservation_id": fact.reservation_id,
        "service_name": fact.service_name,
        "slot": format_slot(fact.starts_at, fact.ends_at),
    }


def _email(
    fact: ReservationFact,
    *,
    template: str,
    recipient: str,
    subject: str,
    context: dict[str, Any],
) -> Email:
    return Email(
        event_id=fact.event_id,
        event_type=fact.event_type,
        template=template,
        recipient=recipient,
        subject=subject,
        context=context,
    )


def plan_email(fact: ReservationFact, *, operator_email: str, checkout_url: str) -> Email:
    """The e-mail `fact` calls for. Subjects are one line (user text may hold newlines)."""
    match fact:
        case ReservationConfirmedV1():
            return _email(
                fact,
                template=CONFIRMED,
                recipient=fact.user_email,
                subject=one_line(f"Booking confirmed: {fact.service_name} ({fact.reference})"),
                context={
                    **_reservation(fact),
                    "amount_paid": format_money(fact.amount_paid, fact.currency),
                    "reference": fact.reference,
                },
            )
        case ReservationPaymentFailedV1():
            return _email(
                fact,
                template=PAYMENT_FAILED,
                recipient=fact.user_email,
                subject=one_line(f"Payment failed for your {fact.service_name} booking"),
                context={
                    **_reservation(fact),
                    "reason": fact.reason,
                    "retry_url": safe_link(fact.retry_url, checkout_url),
                    "hold_expires": (
                        format_moment(fact.hold_expires_at) if fact.hold_expires_at else None
                    ),
                    # A failure after the hold ran out must not invite a retry "until" a time
                    # already past (judged at the fact's own moment, so a re-send reads the same).
                    "hold_lapsed": fact.hold_expires_at is not None
                    and fact.hold_expires_at <= fact.occurred_at,
                },
            )
        case ReservationExpiredV1():
            return _email(
                fact,
                template=EXPIRED,
                recipient=fact.user_email,
                subject=one_line(f"Your {fact.service_name} hold has expired"),
                context={**_reservation(fact), "book_url": checkout_url},
            )
        case ReservationRefundedV1():
            template = refund_template(fact)
            subject = {
                REFUNDED: f"Refund issued for your {fact.service_name} booking",
                REFUNDED_DUPLICATE: f"Extra payment refunded: your {fact.service_name} booking"
                " stands",
                REFUNDED_PARTIAL: f"Partial refund for your {fact.service_name} booking",
            }[template]
            return _email(
                fact,
                template=template,
                recipient=fact.user_email,
                subject=one_line(subject),
                context={
                    **_reservation(fact),
                    "amount_refunded": format_money(fact.amount_refunded, fact.currency),
                    "refunded_total": (
                        format_money(fact.refunded_total, fact.currency)
                        if fact.refunded_total is not None
                        else None
                    ),
                    "refund_id": fact.refund_id,
                    "reason": _REFUND_REASONS.get(fact.reason, "A refund was issued."),
                },
            )
        case OrderRefundedV1():
            return _email(
                fact,
                template=ORDER_REFUNDED,
                recipient=fact.user_email,
                subject=one_line(
                    f"{'Partial refund' if fact.partial else 'Refund'} for your order"
                    f" {fact.order_id}"
                ),
                context={
                    "order_id": fact.order_id,
                    "amount_refunded": format_money(fact.amount_refunded, fact.currency),
                    "refund_id": fact.refund_id,
                    "partial": fact.partial,
                },
            )
        case ReservationFlaggedForReviewV1():
            return _email(
                fact,
                template=FLAGGED,
                recipient=operator_email,
                subject=one_line(
                    f"[review] Reservation {fact.reservation_id}: {fact.reason}", limit=200
                ),
                context={
                    **_reservation(fact),
                    "reason": fact.reason,
                    "expected": format_money(fact.expected_amount, fact.expected_currency),
                    "paid": format_money(fact.paid_amount, fact.paid_currency),
                    "session_id": fact.session_id,
                    "payment_intent_id": fact.payment_intent_id,
                    "user_id": fact.user_id,
                    "user_email": fact.user_email,
                },
            )
        case OrderConfirmedV1():
            return _email(
                fact,
                template=ORDER_CONFIRMED,
                recipient=fact.user_email,
                subject=one_line(f"Order confirmed: {len(fact.items)} beat(s)"),
                context={
                    "order_id": fact.order_id,
                    "items": [
                        {"title": item.title, "price": format_money(item.price, fact.currency)}
                        for item in fact.items
                    ],
                    "total": format_money(fact.total, fact.currency),
                },
            )
        case PaymentDisputedV1() | PaymentDisputeClosedV1():
            return _dispute_email(fact, operator_email)
    raise TypeError(f"no e-mail for {type(fact).__name__}")  # pragma: no cover


def _dispute_email(fact: PaymentDisputedV1 | PaymentDisputeClosedV1, operator_email: str) -> Email:
    """To the operator: a dispute opened (answer at Stripe before the deadline) or closed."""
    context: dict[str, Any] = {
        "dispute_id": fact.dispute_id,
        "amount": format_money(fact.amount, fact.currency),
        "reason": fact.reason or "-",
        "stripe_status": fact.stripe_status,
        "payment_intent_id": fact.payment_intent_id or "-",
        "charge_id": fact.charge_id or "-",
        "reservation_ids": ", ".join(fact.reservation_ids) or "-",
        "order_id": fact.order_id or "-",
        "user_id": fact.user_id,
        "user_email": fact.user_email,
    }
    if isinstance(fact, PaymentDisputedV1):
        due = format_moment(fact.evidence_due_by) if fact.evidence_due_by else "-"
        return _email(
            fact,
            template=DISPUTED,
            recipient=operator_email,
            subject=one_line(f"[dispute] {fact.dispute_id}: evidence due {due}", limit=200),
            context={**context, "evidence_due_by": due},
        )
    return _email(
        fact,
        template=DISPUTE_CLOSED,
        recipient=operator_email,
        subject=one_line(f"[dispute] {fact.dispute_id} closed: {fact.outcome}", limit=200),
        context={**context, "outcome": fact.outcome},
    )
