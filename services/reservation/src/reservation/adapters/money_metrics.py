"""Prometheus metrics of what keeps money from waiting forever: overdue look-ups, scheduled
reconciliation, disputes and card declines (the worker exposes them with the others)."""

from __future__ import annotations

import re

from prometheus_client import Counter, Gauge

from reservation.service_layer.observers import MISMATCH_KINDS

OVERDUE_RESOLVED = Counter(
    "reservation_overdue_sessions_total",
    "Processing reservations whose session should have ended, looked up at Stripe, by what"
    " Stripe said: complete, expired (applied as their event), still_open, unresolvable, error.",
    ["outcome"],
)
RECONCILE_LAST_RUN = Gauge(
    "reservation_reconcile_last_run_timestamp_seconds",
    "Unix time the scheduled reconciliation last completed a pass (0: never in this process).",
)
RECONCILE_MISMATCHES = Gauge(
    "reservation_reconcile_mismatches",
    "Mismatches the last scheduled pass found, by kind (event_not_applied, paid_not_settled,"
    " order_not_settled); each found one is repaired, so a kind that stays above zero across"
    " passes is one the repair does not fix.",
    ["kind"],
)
RECONCILE_RUNS = Counter(
    "reservation_reconcile_runs_total",
    "Scheduled reconciliation passes, by result: clean, repaired, failed, skipped (another"
    " process holds the reconciliation lock).",
    ["result"],
)
DISPUTES = Counter(
    "reservation_disputes_total",
    "Stripe disputes applied (once each), by stage: opened, won, lost.",
    ["stage"],
)
DECLINES = Counter(
    "reservation_payment_declines_total",
    "payment_intent.payment_failed events applied (a card declined on Stripe's page; the page"
    " stays open for another try), by Stripe's decline code (or error code).",
    ["decline_code"],
)

_CODE = re.compile(r"[a-z0-9_]{1,40}")

# Every series exists from the start, so rates and alerts see zeros rather than gaps.
for _kind in MISMATCH_KINDS:
    RECONCILE_MISMATCHES.labels(_kind)
for _result in ("clean", "repaired", "failed", "skipped"):
    RECONCILE_RUNS.labels(_result)
for _stage in ("opened", "won", "lost"):
    DISPUTES.labels(_stage)
for _outcome in ("complete", "expired", "still_open", "unresolvable", "error"):
    OVERDUE_RESOLVED.labels(_outcome)


def decline_label(code: str | None) -> str:
    """A bounded label: Stripe's codes are short snake_case words; anything else is `other`."""
    if code is None:
        return "unknown"
    return code if _CODE.fullmatch(code) else "other"
