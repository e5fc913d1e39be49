"""GET /metrics of every process of a running stack, after one payment: what the dashboard and
the alerts read is there, the workers' consumer lag and dead-letter depth included."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack.testing import eventually

from .support import PaymentRun
from .test_monitoring_config import (
    PROMETHEUS_OWN,
    dashboard_metric_names,
    is_defined,
    recorded_names,
    rule_metric_names,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Process -> the part of the stack whose port serves its /metrics.
ENDPOINTS = {
    "webhook-ingest": "webhook-ingest",
    "checkout": "checkout",
    "reservation-api": "reservation-api",
    "reservation-worker": "reservation-worker-metrics",
    "notifier": "notifier",
}
Samples = dict[str, list[tuple[dict[str, str], float]]]


async def _scrape(run: PaymentRun) -> tuple[set[str], dict[str, Samples]]:
    families: set[str] = set()
    samples: dict[str, Samples] = {}
    async with httpx.AsyncClient(timeout=5.0) as http:
        for process, part in ENDPOINTS.items():
            response = await http.get(run.stack.url(part, "/metrics"))
            assert response.status_code == 200, f"{process}: {response.status_code}"
            found: Samples = {}
            for family in text_string_to_metric_families(response.text):
                families.add(family.name)
                for sample in family.samples:
                    found.setdefault(sample.name, []).append((sample.labels, sample.value))
            samples[process] = found
    return families, samples


async def test_every_metric_the_dashboard_and_alerts_read_is_exposed(
    paid_payment: PaymentRun,
) -> None:
    families, _ = await _scrape(paid_payment)
    wanted = dashboard_metric_names() | rule_metric_names()
    missing = sorted(
        name
        for name in wanted - recorded_names() - PROMETHEUS_OWN
        if not is_defined(name, families)
    )
    assert not missing, f"not exposed by any service: {missing}"


async def test_the_payment_shows_in_the_funnel_and_the_workers_report_lag(
    paid_payment: PaymentRun,
) -> None:
    _, samples = await _scrape(paid_payment)
    worker = samples["reservation-worker"]
    funnel = {s[0]["step"]: s[1] for s in worker["reservation_payment_funnel_total"]}
    assert funnel["session_created"] >= 1
    assert funnel["completed"] >= 1
    outcomes = {s[0]["outcome"]: s[1] for s in worker["reservation_payment_outcomes_total"]}
    assert outcomes["confirmed"] >= 1
    assert worker["reservation_stripe_event_to_commit_seconds_count"]
    sessions = samples["checkout"]["checkout_sessions_total"]
    assert any(
        s[0] == {"type": "reservation_payment", "outcome": "created"} and s[1] >= 1
        for s in sessions
    )
    events = samples["webhook-ingest"]["webhook_ingest_events_total"]
    assert any(s[0]["type"] == "checkout.session.completed" for s in events)
    sent = samples["notifier"]["notifier_notifications_total"]
    assert any(s[0] == {"template": "reservation_confirmed", "outcome": "sent"} for s in sent)

    # Lag per partition from the Faust workers, and the dead-letter depth their watch reads
    # every few seconds (the first reading may still be on its way).
    async def watched() -> bool:
        _, now = await _scrape(paid_payment)
        for process, group in (("reservation-worker", "reservation"), ("notifier", "notifier")):
            lag = now[process].get("consumer_lag_messages", [])
            depth = now[process].get("consumer_dead_letter_messages", [])
            if not any(s[0]["group"] == group for s in lag):
                return False
            if not any(s[0]["group"] == group and s[1] == 0 for s in depth):
                return False
        return True

    await eventually(watched, timeout=40, interval=1.0, what="lag and dead-letter gauges")
