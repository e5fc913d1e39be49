"""Expiring superseded sessions at Stripe, so a user cannot pay twice for one reservation.

When a newer session is recorded for a reservation that still has an open one (the user added a
beat, a price changed, a key generation was spent), the older one is marked `expire_pending` in
the same transaction. After the commit, and never under a row lock, it is expired through
Stripe (POST /v1/checkout/sessions/{id}/expire). If Stripe is down the mark stays and a periodic
sweep retries.

The expiry waits (a few seconds at most) for the newer session's CheckoutSessionCreatedV1 to be
on its topic: the reservation worker lets the newest session speak for a reservation, so when it
knows the newer session first, the old one's `checkout.session.expired` changes nothing; the
other way round it would release the hold for a moment (or expire it, past the hold's end).

A payment that still lands on the old session keeps the reservation worker's handling (a
duplicate is refunded).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from backbone.logging import get_logger
from checkout.service_layer.errors import StripeRefused, StripeUnavailable
from checkout.service_layer.ports import CheckoutMetrics, SessionExpirer
from checkout.service_layer.unit_of_work import CheckoutUnitOfWork

log = get_logger(__name__)

_FACT_POLL_S = 0.2


class Superseder:
    """Expires what is marked, now in the background, and again on each sweep until done."""

    def __init__(
        self,
        uow: Callable[[], CheckoutUnitOfWork],
        stripe: SessionExpirer,
        clock: Callable[[], datetime],
        *,
        metrics: CheckoutMetrics,
        fact_wait_s: float = 10.0,
    ) -> None:
        self._uow = uow
        self._stripe = stripe
        self._clock = clock
        self._metrics = metrics
        self._fact_wait_s = fact_wait_s
        self._tasks: set[asyncio.Task[int]] = set()

    def soon(self, newer: str, session_ids: Iterable[str]) -> None:
        """Expire these after the caller's answer is on its way and `newer`'s fact is published
        (the sweep covers a failure)."""
        ids = list(session_ids)
        if not ids:
            return
        task = asyncio.create_task(self._after_fact(newer, ids), name="checkout-expire-superseded")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _after_fact(self, newer: str, session_ids: list[str]) -> int:
        deadline = time.monotonic() + self._fact_wait_s
        while time.monotonic() < deadline:
            async with self._uow() as uow:
                if await uow.repo.fact_sent(newer):
                    break
            await asyncio.sleep(_FACT_POLL_S)
        # Past the wait (the relay is down or slow) the old session is expired anyway: one page
        # that can be paid matters more than the worker's momentary view.
        return await self.expire(session_ids)

    async def sweep(self, limit: int = 50) -> int:
        """Expire superseded sessions still marked; how many were settled."""
        # Fresh marks are the background expiry's (it waits for the newer session's fact).
        marked_before = self._clock() - timedelta(seconds=self._fact_wait_s)
        async with self._uow() as uow:
            ids = await uow.repo.pending_expiries(limit, marked_before)
        return await self.expire(ids)

    async def expire(self, session_ids: list[str]) -> int:
        """Expire each at Stripe and clear its mark; Stripe unavailable leaves it marked."""
        settled = 0
        for session_id in session_ids:
            try:
                try:
                    live = await self._stripe.expire_session(session_id)
                    outcome = "expired"
                except StripeRefused:
                    # Not open any more (paid, expired meanwhile): record what it is instead.
                    live = await self._stripe.retrieve_session(session_id)
                    outcome = "ended"
            except (StripeUnavailable, StripeRefused) as exc:
                self._metrics.superseded("deferred")
                log.warning(
                    "checkout.supersede_deferred", session_id=session_id, error=type(exc).__name__
                )
                continue
            async with self._uow() as uow:
                await uow.repo.expiry_done(
                    session_id, live.status, live.payment_status, self._clock()
                )
                await uow.commit()
            self._metrics.superseded(outcome)
            log.info("checkout.session_superseded", session_id=session_id, status=live.status)
            settled += 1
        return settled

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        """Sweep every `interval_s` until `stop` is set; a failing sweep is logged, not fatal."""
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("checkout.supersede_sweep_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    async def close(self) -> None:
        """Let the background expiries finish (bounded by the gateway's own deadline)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
