"""Reconciliation on a schedule, in the worker: one worker at a time compares the last hours with
Stripe and repairs what it finds, exporting when it last ran and what it found.

One active at a time, as the outbox relays: the worker that takes a PostgreSQL advisory lock keeps
it (on a connection of its own, with no rows locked) for as long as it lives; the others try again
at each tick and take over when that connection goes away. A pass repairs in two ways, both
through the worker's idempotent path:
- an event of Stripe's that never reached our inbox is republished to stripe.events, exactly as
  webhook-ingest would have written it (what the CLI does);
- a paid session whose reservations or beats order are not settled, with no event left to
  replay, is read from the listing and applied as the `completed` event Stripe would have sent
  (event id `evt_reconcile_<session>_completed`, so two passes claim one inbox row).
A mismatch the repair cannot fix (an order whose items checkout never told, a session already
recorded as paid whose reservation moved on) is found again by the next pass: the gauge stays up
and the alert in deploy/monitoring/rules/money.yml fires.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backbone.logging import get_logger
from reservation.service_layer.messages import session_signal
from reservation.service_layer.observers import ReconcileObserver
from reservation.service_layer.overdue import synthetic_event
from reservation.service_layer.payments import PaymentService
from reservation.service_layer.ports import ReservationUnitOfWork
from reservation.service_layer.reconcile import (
    Report,
    StripeListing,
    compare,
    new_run_id,
)

log = get_logger(__name__)

# Republish Stripe's events (as webhook-ingest wrote them) under a run id: adapters.stripe_replay.
Republish = Callable[[Sequence[dict[str, Any]], str], Awaitable[object]]


@dataclass
class ScheduledReconcile:
    """A reconciliation pass per tick, on the one worker that holds the lock."""

    engine: AsyncEngine
    uow: Callable[[], ReservationUnitOfWork]
    stripe: StripeListing
    payments: PaymentService
    publish: Republish
    consumer: str
    window_s: int
    observer: ReconcileObserver
    _lock: AsyncConnection | None = field(default=None, init=False)

    @property
    def lock_key(self) -> int:
        """The advisory lock of this consumer group's reconciliation."""
        return zlib.crc32(f"reservation-reconcile:{self.consumer}".encode())

    async def _hold_lock(self) -> bool:
        """Whether this process is the active reconciler (taking the lock if it is free)."""
        if self._lock is not None:
            try:
                await self._lock.scalar(text("SELECT 1"))
                await self._lock.commit()
                return True
            except Exception:
                # The connection (and with it the lock) is gone: try to take it again.
                log.warning("reconcile.lock_lost")
                await self.release()
        conn = await self.engine.connect()
        got = await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.lock_key})
        await conn.commit()
        if got:
            self._lock = conn
            log.info("reconcile.active", consumer=self.consumer)
            return True
        await conn.close()
        return False

    async def release(self) -> None:
        """Give the lock up (a pooled connection outlives `close`, so unlock explicitly)."""
        conn, self._lock = self._lock, None
        if conn is None:
            return
        try:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.lock_key})
            await conn.commit()
            await conn.close()
        except Exception:
            # A broken connection: dropping it from the pool ends its session and the lock.
            log.warning("reconcile.release_failed")
            await conn.invalidate()
            await conn.close()

    async def tick(self) -> str:
        """One scheduled pass if this worker is the active one: clean, repaired, skipped, failed."""
        try:
            if not await self._hold_lock():
                self.observer.reconcile_run("skipped")
                return "skipped"
            result = await self.run_pass()
        except Exception:
            log.exception("reconcile.pass_failed")
            result = "failed"
        self.observer.reconcile_run(result)
        return result

    async def run_pass(self) -> str:
        """Compare the window with Stripe, repair what can be, export what was found."""
        since = int(time.time()) - self.window_s
        report = await compare(self.uow(), self.stripe, self.consumer, since)
        found = Tally(m.kind for m in report.mismatches)
        self.observer.reconcile_found(found)
        if report.mismatches:
            await self._repair(report)
        self.observer.reconcile_completed()
        log.info("reconcile.pass", mismatches=dict(found), since=since)
        return "repaired" if report.mismatches else "clean"

    async def _repair(self, report: Report) -> None:
        run_id = new_run_id()
        if report.replayable:
            await self.publish(report.replayable, run_id)
            log.info("reconcile.republished", count=len(report.replayable), run_id=run_id)
        await settle_from_stripe(self.payments, report)


async def settle_from_stripe(payments: PaymentService, report: Report) -> int:
    """Apply each paid session left unsettled as its `completed` event; how many were applied."""
    applied = 0
    for session in report.unsettled_sessions:
        event = synthetic_event(session, prefix="reconcile", now=int(time.time()))
        signal = session_signal(event, str(session["id"])) if event is not None else None
        if signal is None:
            continue
        await payments.apply([signal])
        applied += 1
        log.info(
            "reconcile.settled_from_stripe", session_id=session["id"], event_id=signal.event_id
        )
    return applied
