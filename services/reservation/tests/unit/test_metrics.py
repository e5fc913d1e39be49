"""The worker's payment metrics: funnel steps and outcomes counted from what a commit wrote."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import REGISTRY

from contracts.reservation import ReservationFactBase, parse_fact
from reservation.adapters.metrics import record_committed

EXAMPLES = Path(__file__).resolve().parents[4] / "libs" / "contracts" / "examples"


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _fact(name: str) -> ReservationFactBase:
    fact = parse_fact((EXAMPLES / "reservation.events" / f"{name}.json").read_bytes())
    assert isinstance(fact, ReservationFactBase)
    return fact


def test_a_completed_session_counts_its_step_outcome_and_stripe_delay() -> None:
    funnel = _value("reservation_payment_funnel_total", step="completed")
    confirmed = _value("reservation_payment_outcomes_total", outcome="confirmed")
    delays = _value("reservation_stripe_event_to_commit_seconds_count", step="completed")
    created = datetime.now(UTC) - timedelta(seconds=3)
    delay = record_committed(
        "completed",
        [_fact("reservation_confirmed")],
        started=time.perf_counter(),
        event_created=created,
    )
    assert delay is not None
    assert 2.5 < delay < 60
    assert _value("reservation_payment_funnel_total", step="completed") == funnel + 1
    assert _value("reservation_payment_outcomes_total", outcome="confirmed") == confirmed + 1
    assert (
        _value("reservation_stripe_event_to_commit_seconds_count", step="completed") == delays + 1
    )


def test_refunds_count_by_reason_and_checkout_facts_have_no_stripe_delay() -> None:
    late = _value("reservation_payment_funnel_total", step="late_payment_refunded")
    refunded = _value("reservation_payment_funnel_total", step="refunded")
    record_committed("charge_refunded", [_fact("reservation_refunded_charge")], started=0.0)
    record_committed("completed", [_fact("reservation_refunded_slot_taken")], started=0.0)
    assert _value("reservation_payment_funnel_total", step="refunded") == refunded + 1
    assert _value("reservation_payment_funnel_total", step="late_payment_refunded") == late + 1
    created = _value("reservation_payment_funnel_total", step="session_created")
    assert record_committed("session_created", [], started=time.perf_counter()) is None
    assert _value("reservation_payment_funnel_total", step="session_created") == created + 1
