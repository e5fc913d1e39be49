"""Prometheus metrics of the payment worker: the funnel, outcomes, and how fast we apply Stripe;
`PrometheusObserver` is the service layer's observer port (service_layer.observers) on them."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram

from contracts.reservation import (
    REFUND_REASON_CHARGE_REFUNDED,
    REFUND_REASON_LATE_PAYMENT_SLOT_TAKEN,
    FactBase,
    OrderConfirmedV1,
    OrderRefundedV1,
    ReservationConfirmedV1,
    ReservationExpiredV1,
    ReservationFlaggedForReviewV1,
    ReservationPaymentFailedV1,
    ReservationRefundedV1,
)
from reservation.adapters.money_metrics import (
    DECLINES,
    DISPUTES,
    OVERDUE_RESOLVED,
    RECONCILE_LAST_RUN,
    RECONCILE_MISMATCHES,
    RECONCILE_RUNS,
    decline_label,
)
from reservation.service_layer.observers import MISMATCH_KINDS, SESSION_CREATED, STEP_OF_EVENT

FUNNEL = Counter(
    "reservation_payment_funnel_total",
    "Payment steps applied (committed once; duplicates not counted): per checkout session for"
    " session_created, completed, async_succeeded, async_failed, expired; per reservation for"
    " refunded (in Stripe) and late_payment_refunded (paid after the slot went to someone else).",
    ["step"],
)
OUTCOMES = Counter(
    "reservation_payment_outcomes_total",
    "Facts committed, by outcome: confirmed, payment_failed, expired, refunded,"
    " flagged_for_review (reservations), order_confirmed, order_refunded (beats orders).",
    ["outcome"],
)
PROCESSING_SECONDS = Histogram(
    "reservation_payment_processing_seconds",
    "Time to apply one payment signal (inbox claim, state change, facts, commit), by step.",
    ["step"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENT_TO_COMMIT_SECONDS = Histogram(
    "reservation_stripe_event_to_commit_seconds",
    "From Stripe's event `created` (whole seconds) to the reservation change committed, by step.",
    ["step"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600),
)

# The processing-time label of a session without reservations (beats only): not a funnel step.
BEATS_ONLY = "beats_only"
CHARGE_REFUNDED = "charge_refunded"
STEPS = (SESSION_CREATED, *STEP_OF_EVENT.values(), "refunded", "late_payment_refunded")
ORDERS_FLAGGED = Counter(
    "reservation_orders_flagged_total",
    "Paid beats orders not confirmed because the payment differs from the items as sold (the"
    " order is needs_review, no e-mail goes out: an operator must look), by reason.",
    ["reason"],
)
FACT_OUTCOMES: dict[type[FactBase], str] = {
    ReservationConfirmedV1: "confirmed",
    ReservationPaymentFailedV1: "payment_failed",
    ReservationExpiredV1: "expired",
    ReservationRefundedV1: "refunded",
    ReservationFlaggedForReviewV1: "flagged_for_review",
    OrderConfirmedV1: "order_confirmed",
    OrderRefundedV1: "order_refunded",
}
_REFUND_STEPS = {
    REFUND_REASON_CHARGE_REFUNDED: "refunded",
    REFUND_REASON_LATE_PAYMENT_SLOT_TAKEN: "late_payment_refunded",
}

# Every series exists from the start, so rates and alerts see zeros rather than gaps.
for _step in STEPS:
    FUNNEL.labels(_step)
for _outcome in FACT_OUTCOMES.values():
    OUTCOMES.labels(_outcome)
for _reason in ("amount_mismatch", "currency_mismatch"):
    ORDERS_FLAGGED.labels(_reason)


def count_facts(facts: Sequence[FactBase]) -> None:
    """Count committed facts by outcome, and the refund steps of the funnel they are."""
    for fact in facts:
        OUTCOMES.labels(FACT_OUTCOMES.get(type(fact), "other")).inc()
        if isinstance(fact, ReservationRefundedV1) and fact.reason in _REFUND_STEPS:
            FUNNEL.labels(_REFUND_STEPS[fact.reason]).inc()


def record_committed(
    step: str | None,
    facts: Sequence[FactBase],
    *,
    started: float,
    event_created: datetime | None = None,
) -> float | None:
    """Count a committed signal and its facts; returns Stripe-created-to-commit seconds if known."""
    if step in STEP_OF_EVENT.values() or step == SESSION_CREATED:
        FUNNEL.labels(step).inc()
    count_facts(facts)
    label = step or "other"
    PROCESSING_SECONDS.labels(label).observe(time.perf_counter() - started)
    if event_created is None:
        return None
    delay = max((datetime.now(UTC) - event_created).total_seconds(), 0.0)
    EVENT_TO_COMMIT_SECONDS.labels(label).observe(delay)
    return delay


REFUNDS = Counter(
    "reservation_refunds_total",
    "Refunds by outcome: succeeded or pending (Stripe took ours), refused (Stripe turned ours"
    " down for good: already refunded, disputed, invalid), failed or canceled (Stripe could not"
    " return the money), retried (Stripe unavailable: tried again later), observed (made in"
    " Stripe, told by its events). refused, failed and canceled need an operator.",
    ["outcome"],
)
REFUNDS_WAITING = Gauge(
    "reservation_refunds_waiting",
    "Refunds we decided that Stripe has not answered yet (the executor retries them).",
)
REFUND_OLDEST_WAITING_SECONDS = Gauge(
    "reservation_refund_oldest_waiting_seconds",
    "Age of the oldest refund we decided that Stripe has not answered yet (0: none).",
)
for _outcome in ("succeeded", "pending", "refused", "failed", "canceled", "retried", "observed"):
    REFUNDS.labels(_outcome)


class PrometheusObserver:
    """The observer ports (service_layer.observers.Observer, service_layer.ports.PaymentObserver)
    on this module's series: bootstrap wires one for every use case."""

    def facts_committed(self, facts: Sequence[FactBase]) -> None:
        """Count committed facts by outcome (and the refund steps of the funnel)."""
        count_facts(facts)

    def holds_expired(self, count: int) -> None:
        """Holds the sweep expired (their facts committed)."""
        OUTCOMES.labels("expired").inc(count)

    def overdue_resolved(self, outcome: str) -> None:
        """What Stripe said of an overdue session looked up."""
        OVERDUE_RESOLVED.labels(outcome).inc()

    def reconcile_run(self, result: str) -> None:
        """One scheduled reconciliation tick, by result."""
        RECONCILE_RUNS.labels(result).inc()

    def reconcile_found(self, found: Mapping[str, int]) -> None:
        """What a pass found (every kind set, zeros included)."""
        for kind in MISMATCH_KINDS:
            RECONCILE_MISMATCHES.labels(kind).set(found.get(kind, 0))

    def reconcile_completed(self) -> None:
        """When a pass last completed."""
        RECONCILE_LAST_RUN.set(time.time())

    def refund_outcome(self, outcome: str) -> None:
        """One refund outcome."""
        REFUNDS.labels(outcome).inc()

    def refunds_waiting(self, count: int, oldest_s: float) -> None:
        """The refunds still waiting for Stripe after a round, and the age of the oldest."""
        REFUNDS_WAITING.set(count)
        REFUND_OLDEST_WAITING_SECONDS.set(oldest_s)

    def committed(
        self,
        step: str | None,
        facts: Sequence[FactBase],
        *,
        started: float,
        event_created: datetime | None = None,
    ) -> float | None:
        """Count a committed signal and its facts (record_committed)."""
        return record_committed(step, facts, started=started, event_created=event_created)

    def order_flagged(self, reason: str) -> None:
        """A paid beats order differs from what was sold."""
        ORDERS_FLAGGED.labels(reason).inc()

    def dispute(self, stage: str) -> None:
        """A dispute opened, won or lost."""
        DISPUTES.labels(stage).inc()

    def declined(self, decline_code: str | None) -> str:
        """A card declined: the funnel's `declined` step and the code's bounded label."""
        code = decline_label(decline_code)
        FUNNEL.labels("declined").inc()
        DECLINES.labels(code).inc()
        return code
