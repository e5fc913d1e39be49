"""Ports the service layer needs from outside it: what it tells the metrics (an observer).

The service layer counts what it did through `Observer`; `adapters.metrics.MetricsObserver` is
the Prometheus implementation that `bootstrap` wires in, `NullObserver` counts nothing (unit
tests record calls with their own). No use case imports a metric or a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from contracts.reservation import FactBase


class Observer(Protocol):
    """What the use cases count and time; every method is called after the fact it names."""

    def committed(
        self,
        step: str | None,
        facts: Sequence[FactBase],
        *,
        started: float,
        event_created: datetime | None = None,
    ) -> float | None:
        """A signal committed with `facts`: count and time it; Stripe-to-commit seconds if
        known."""

    def facts_committed(self, facts: Sequence[FactBase]) -> None:
        """Facts committed outside a signal (the refund executor, the sweep)."""

    def funnel(self, step: str) -> None:
        """One step of the payment funnel."""

    def outcome(self, outcome: str) -> None:
        """One outcome of a reservation that produced no fact of its own."""

    def order_flagged(self, reason: str) -> None:
        """A paid beats order differs from what was sold."""

    def refund(self, outcome: str) -> None:
        """A refund moved: succeeded, pending, refused, failed, canceled, retried, observed."""

    def refunds_waiting(self, count: int, oldest_s: float) -> None:
        """How many of our refunds wait for Stripe, and the age of the oldest."""

    def dispute(self, stage: str) -> None:
        """A dispute opened, won or lost."""

    def declined(self, decline_code: str | None) -> str:
        """A card declined; the bounded label it was counted under."""

    def overdue(self, outcome: str) -> None:
        """An overdue session looked up at Stripe, by what Stripe said."""


class NullObserver:
    """Counts nothing (a use case built without metrics)."""

    def committed(
        self,
        step: str | None,
        facts: Sequence[FactBase],
        *,
        started: float,
        event_created: datetime | None = None,
    ) -> float | None:
        """Nothing counted, no delay known."""
        return None

    def facts_committed(self, facts: Sequence[FactBase]) -> None:
        """Nothing counted."""

    def funnel(self, step: str) -> None:
        """Nothing counted."""

    def outcome(self, outcome: str) -> None:
        """Nothing counted."""

    def order_flagged(self, reason: str) -> None:
        """Nothing counted."""

    def refund(self, outcome: str) -> None:
        """Nothing counted."""

    def refunds_waiting(self, count: int, oldest_s: float) -> None:
        """Nothing counted."""

    def dispute(self, stage: str) -> None:
        """Nothing counted."""

    def declined(self, decline_code: str | None) -> str:
        """The code as given."""
        return decline_code or "unknown"

    def overdue(self, outcome: str) -> None:
        """Nothing counted."""
