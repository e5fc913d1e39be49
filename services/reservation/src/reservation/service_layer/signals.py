"""What the worker hands the payment service: one signal per Stripe or checkout event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reservation.domain.orders import CartPayment, OrderDraft
from reservation.domain.payments import Attempt, Stage
from reservation.domain.reservation import SessionPayment
from reservation.service_layer.disputes import DisputeSignal, PaymentDeclined
from reservation.service_layer.refunds import RefundSignal


@dataclass(frozen=True)
class SessionSignal:
    """What one event says about one checkout session: the stage it reached, and any payment."""

    event_id: str
    session_id: str
    session_created: datetime
    stage: Stage
    reservation_ids: list[str]
    payment_intent_id: str | None = None
    amount_total: int | None = None
    currency: str | None = None
    cart_total: int = 0
    services_total: int | None = None
    paid_at: datetime | None = None
    failure_reason: str = "the payment did not go through"
    correlation_id: str | None = None
    step: str | None = None  # the funnel step it is (metrics), e.g. completed
    event_created: datetime | None = None  # Stripe's event `created`, when it came from Stripe
    order: OrderDraft | None = None  # the session's beats, when it sells any
    expires_at: datetime | None = None  # when the session's page closes, if it is still open
    # Why a payment is not what checkout created (service_layer.provenance): flagged if set.
    provenance_problem: str | None = None

    @property
    def attempt(self) -> Attempt:
        """The attempt this signal moves."""
        return Attempt(self.session_id, self.session_created, self.stage)

    def payment(self, session_size: int) -> SessionPayment:
        """What the signal says to each of the `session_size` reservations it pays."""
        return SessionPayment(
            self.attempt,
            payment_intent_id=self.payment_intent_id,
            amount_total=self.amount_total,
            cart_total=self.cart_total,
            currency=self.currency,
            paid_at=self.paid_at,
            failure_reason=self.failure_reason,
            expires_at=self.expires_at,
            session_size=session_size,
        )

    @property
    def settles(self) -> bool:
        """Whether it is a payment (which refunds recorded before it may wait for)."""
        return self.stage is Stage.PAID and self.payment_intent_id is not None

    def cart_payment(self, now: datetime) -> CartPayment | None:
        """What the session paid for its beats, once it is paid."""
        if self.stage is not Stage.PAID:
            return None
        return CartPayment.of_session(
            amount_total=self.amount_total,
            services_total=self.services_total,
            currency=self.currency,
            payment_intent_id=self.payment_intent_id,
            paid_at=self.paid_at or now,
        )


@dataclass(frozen=True)
class Unhandled:
    """An event we do not act on: recorded in the inbox, so reconciliation sees it arrived."""

    event_id: str
    correlation_id: str | None = None


Signal = SessionSignal | RefundSignal | DisputeSignal | PaymentDeclined | Unhandled
