"""The checkout use cases' Prometheus counters (registered on import), behind CheckoutMetrics."""

from __future__ import annotations

from prometheus_client import Counter

SESSIONS = Counter(
    "checkout_sessions_total", "Checkout requests answered with a session.", ["type", "outcome"]
)
SUPERSEDED = Counter(
    "checkout_superseded_sessions_total",
    "Superseded sessions by outcome: expired at Stripe, ended (already not open), or deferred "
    "(Stripe unavailable: retried by the sweep).",
    ["outcome"],
)


class PrometheusMetrics:
    """CheckoutMetrics on the process's default registry (served on /metrics)."""

    def session_answered(self, checkout_type: str, outcome: str) -> None:
        """A create request answered with a session: created, replayed or reused."""
        SESSIONS.labels(checkout_type, outcome).inc()

    def superseded(self, outcome: str) -> None:
        """A superseded session settled (expired, ended) or deferred (Stripe unavailable)."""
        SUPERSEDED.labels(outcome).inc()
