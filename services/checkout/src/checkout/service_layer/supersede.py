"""Expiring superseded sessions at Stripe, so a user cannot pay twice for one reservation.

When a newer session is recorded for a reservation that still has an open one (the user added a
beat, a price changed, a key generation was spent), the older one is marked `expire_pending` in
the same transaction. After the commit, and never under a row lock, it is expired through
Stripe (POST /v1/checkout/sessions/{id}/expire). If Stripe is down the mark stays and a periodic
sweep retries. A payment that still lands on the old session keeps the reservation worker's
handling (a duplicate is refunded).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

from prometheus_client import Counter

from backbone.logging import get_logger
from checkout.adapters.stripe_gateway import StripeRefused, StripeSession, StripeUnavailable
from checkout.service_layer.unit_of_work import UnitOfWork

log = get_logger(__name__)

EXPIRED = Counter(
    "checkout_superseded_sessions_total",
    "Superseded sessions by outcome: expired at Stripe, ended (already not open), or deferred "
    "(Stripe unavailable: retried by the sweep).",
    ["outcome"],
)


class SessionExpirer(Protocol):
    """Expires and reads Checkout Sessions (Stripe)."""

    async def expire_session(self, session_id: str) -> StripeSession: ...

    async def retrieve_session(self, session_id: str) -> StripeSession: ...


class Superseder:
    """Expires what is marked, now in the background, and again on each sweep until done."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        stripe: SessionExpirer,
        clock: Callable[[], datetime],
    ) -> None:
        self._uow = uow
        self._stripe = stripe
        self._clock = clock
        self._tasks: set[asyncio.Task[int]] = set()

    def soon(self, session_ids: Iterable[str]) -> None:
        """Expire these after the caller's answer is on its way (the sweep covers a failure)."""
        ids = list(session_ids)
        if not ids:
            return
        task = asyncio.create_task(self.expire(ids), name="checkout-expire-superseded")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def sweep(self, limit: int = 50) -> int:
        """Expire superseded sessions still marked; how many were settled."""
        async with self._uow() as uow:
            ids = await uow.repo.pending_expiries(limit)
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
                EXPIRED.labels("deferred").inc()
                log.warning(
                    "checkout.supersede_deferred", session_id=session_id, error=type(exc).__name__
                )
                continue
            async with self._uow() as uow:
                await uow.repo.expiry_done(
                    session_id, live.status, live.payment_status, self._clock()
                )
                await uow.commit()
            EXPIRED.labels(outcome).inc()
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
