"""What the use cases report as they run (holds expired, refunds tried, passes made): ports.

The service layer says what happened; an adapter decides what to make of it (Prometheus series in
adapters.metrics, a recording fake in the unit tests). Nothing here imports a metrics library.
The funnel's step names live here too: a signal carries its step, the observer labels by it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from contracts import stripe as s
from contracts.reservation import FactBase

# The funnel step each checkout.session.* event is, and the step of a session checkout opened.
STEP_OF_EVENT: dict[str, str] = {
    s.CHECKOUT_SESSION_COMPLETED: "completed",
    s.CHECKOUT_SESSION_ASYNC_PAYMENT_SUCCEEDED: "async_succeeded",
    s.CHECKOUT_SESSION_ASYNC_PAYMENT_FAILED: "async_failed",
    s.CHECKOUT_SESSION_EXPIRED: "expired",
}
SESSION_CREATED = "session_created"

# What a scheduled reconciliation pass can find (each kind is exported, zeros included).
MISMATCH_KINDS = ("event_not_applied", "paid_not_settled", "order_not_settled")


class FactsObserver(Protocol):
    """Told of the facts a transaction committed (each counted once, after the commit)."""

    def facts_committed(self, facts: Sequence[FactBase]) -> None: ...


class SweepObserver(Protocol):
    """Told how many holds a committed sweep batch expired."""

    def holds_expired(self, count: int) -> None: ...


class OverdueObserver(Protocol):
    """Told what Stripe said of each overdue session looked up (complete, expired, still_open,
    unresolvable, error)."""

    def overdue_resolved(self, outcome: str) -> None: ...


class ReconcileObserver(Protocol):
    """Told of each scheduled reconciliation tick (clean, repaired, failed, skipped), of what a
    pass found (by kind, before repairing it) and of each pass completed."""

    def reconcile_run(self, result: str) -> None: ...

    def reconcile_found(self, found: Mapping[str, int]) -> None: ...

    def reconcile_completed(self) -> None: ...


class RefundObserver(FactsObserver, Protocol):
    """Told of each refund outcome (succeeded, pending, refused, failed, canceled, retried,
    observed) and of what still waits for Stripe after a round."""

    def refund_outcome(self, outcome: str) -> None: ...

    def refunds_waiting(self, count: int, oldest_s: float) -> None: ...


class Observer(SweepObserver, OverdueObserver, ReconcileObserver, RefundObserver, Protocol):
    """Everything the worker's jobs report (one adapter implements it all)."""


class NullObserver:
    """Reports nothing: for callers that do not export what a job did (tests, one-shot tools)."""

    def facts_committed(self, facts: Sequence[FactBase]) -> None:
        """Ignore the facts."""

    def holds_expired(self, count: int) -> None:
        """Ignore the count."""

    def overdue_resolved(self, outcome: str) -> None:
        """Ignore the outcome."""

    def reconcile_run(self, result: str) -> None:
        """Ignore the result."""

    def reconcile_found(self, found: Mapping[str, int]) -> None:
        """Ignore the findings."""

    def reconcile_completed(self) -> None:
        """Ignore the pass."""

    def refund_outcome(self, outcome: str) -> None:
        """Ignore the outcome."""

    def refunds_waiting(self, count: int, oldest_s: float) -> None:
        """Ignore the queue."""
