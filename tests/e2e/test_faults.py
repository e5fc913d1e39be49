"""Scenario 8: crashes and outages while a steady stream of payments flows; nothing lost or doubled.

Faults, one after the other, each while payments keep coming: SIGKILL of the reservation worker,
the notifier, the outbox relay and webhook-ingest (each restarted); the SMTP server stopped and
started; the broker stopped and started. The embedded broker keeps everything in memory, so its
restart loses every record and offset it held: topics are recreated and `python -m reservation
reconcile` republishes the Stripe events that were acknowledged but never applied, exactly the
outage reconcile exists for.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backbone.kafka import ensure_topics
from contracts.reservation import ReservationConfirmedV1
from contracts.stripe import HANDLED_EVENT_TYPES
from devstack.testing import eventually

from .harness import Harness, fact_id
from .stream import Stream, mail_snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _reconcile(h: Harness) -> subprocess.CompletedProcess[str]:
    spec = h.stack.specs["reservation-worker"]
    env = {**os.environ, **spec.env, "LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "reservation", "reconcile", "--since", "1h", "--wait", "60"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _requeue(h: Harness, database: str, since: datetime) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": h.stack.config.databases[database]}
    # Margin for facts published just before the stop and not yet consumed.
    since = since - timedelta(seconds=30)
    command = [sys.executable, "-m", "backbone.db.requeue", "--since", since.isoformat()]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def fault_stack(make_stack: Any) -> Harness:
    """A stack of its own: its broker is stopped and its processes killed."""
    return make_stack("faults")  # type: ignore[no-any-return]


async def test_faults_while_payments_flow(fault_stack: Harness) -> None:
    h = fault_stack
    kept_mail: list[dict[str, Any]] = []  # messages read from the sink before it was killed
    faults: list[str] = []
    stream = Stream(h)
    runner = asyncio.create_task(stream.run())
    try:
        await stream.started_since(0)
        for process in ("reservation-worker", "notifier", "reservation-relay", "webhook-ingest"):
            h.stack.kill(process)
            faults.append(f"SIGKILL {process}")
            await stream.started_since(len(stream.payments))
            await asyncio.to_thread(h.stack.restart, process)

        # SMTP down: refuse everything first, so nothing lands between the last read and the kill.
        response = await h.http.post(
            h.url("mail-web", "/_sink/faults"),
            json={"mode": "reject_all", "code": 451, "stage": "data"},
        )
        assert response.status_code == 200, response.text
        kept_mail += await mail_snapshot(h)
        h.stack.kill("mail-sink")
        faults.append("SMTP server stopped")
        await stream.started_since(len(stream.payments))
        await asyncio.to_thread(h.stack.restart, "mail-sink")

        if h.broker is not None:
            broker_lost_at = datetime.now(UTC)
            h.broker.stop()
            faults.append("broker stopped")
            await stream.started_since(len(stream.payments))
            await asyncio.to_thread(h.broker.start)
            await ensure_topics(h.kafka)
            await stream.started_since(len(stream.payments))
    finally:
        await stream.stop()
        await runner
    assert not stream.errors, stream.errors

    # Let the emulator finish its webhook retries, then repair what the broker lost.
    await eventually(h.deliveries_settled, timeout=120, interval=0.5, what="webhooks delivered")
    reconciled = ""
    if h.broker is not None:
        # Facts the relays had published before the broker forgot them go out again; what is
        # still on a topic is recognised and not doubled, and consumers dedupe by fact id.
        for database in ("reservation", "checkout"):
            requeued = await asyncio.to_thread(_requeue, h, database, broker_lost_at)
            assert requeued.returncode == 0, requeued.stderr
        result = await asyncio.to_thread(_reconcile, h)
        reconciled = result.stdout
        assert result.returncode == 0, f"reconcile: {result.stdout}\n{result.stderr}"

    # Every paid reservation succeeded, each exactly once.
    for payment in stream.payments:
        await h.wait_status(payment.user, payment.reservation_id, "succeeded", timeout=90)
    facts = await h.facts()
    confirmed = Counter(f.reservation_id for f in facts if isinstance(f, ReservationConfirmedV1))
    for payment in stream.payments:
        assert confirmed[payment.reservation_id] == 1, payment
    ours = {p.reservation_id for p in stream.payments}
    assert all(getattr(f, "reservation_id", None) in ours for f in facts)

    # Every fact exactly one e-mail (a resend after a crash repeats the same Message-ID).
    fact_ids = {str(f.event_id) for f in facts}
    state: dict[str, Any] = {}

    async def one_mail_per_fact() -> bool:
        mails = kept_mail + await h.messages()
        state["mails"] = mails
        return {fact_id(m) for m in mails} >= fact_ids

    await eventually(
        one_mail_per_fact,
        timeout=120,
        interval=0.5,
        what=lambda: f"e-mails for {len(fact_ids)} facts (have {len(state.get('mails', []))})",
    )
    mails = state["mails"]
    by_fact = Counter(fact_id(m) for m in mails)
    assert set(by_fact) == fact_ids, "an e-mail that is no fact's"
    distinct = {(fact_id(m), m["Subject"], tuple(a["Address"] for a in m["To"])) for m in mails}
    assert len(distinct) == len(fact_ids), "a fact with two different e-mails"

    # Every webhook that got a 2xx is accounted for: applied or acknowledged by the worker.
    deliveries = await h.deliveries()
    acknowledged = {d["event_id"] for d in deliveries if 200 <= (d["status_code"] or 0) < 300}
    types = {d["event_id"]: d["event_type"] for d in deliveries}
    applied = await h.applied_event_ids()
    missing = acknowledged - applied
    # Only the broker's restart may lose acknowledged events; reconcile brings back every one
    # the worker acts on, so what may stay missing is only of types it ignores anyway.
    assert all(types[e] not in HANDLED_EVENT_TYPES for e in missing), sorted(missing)
    if h.broker is None:
        assert not missing, sorted(missing)

    repeated = sum(n - 1 for n in by_fact.values())
    print(
        f"\nfaults injected: {len(faults)} ({', '.join(faults)})"
        f"\npayments: {len(stream.payments)}, facts checked: {len(fact_ids)},"
        f" e-mails: {len(mails)} ({repeated} repeated with the same Message-ID)"
        f"\nwebhooks acknowledged: {len(acknowledged)}, applied by the worker: "
        f"{len(acknowledged & applied)}, lost with the broker (ignored types): {len(missing)}"
        f"\nreconcile:\n{reconciled}"
    )
