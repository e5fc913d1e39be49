"""The refund executor: carries out, after their transaction committed, the refunds the worker
decided, until Stripe answers.

Each round claims the requests that are due (a short transaction that pushes their next attempt
past a lease and commits), calls Stripe with no database lock held and the request's idempotency
key (a retry after a lost answer gets the same refund), then records the answer in a second
transaction: the refund id and status, the reservation's refund id, and the fact the notifier
turns into the e-mail. Stripe unavailable (5xx, 429, timeout, connection): the request waits a
capped, jittered backoff and is tried again, for as long as the outage lasts. Stripe refusing for
good (4xx: already refunded, disputed, invalid): recorded `refused`, counted and logged as an
error for an operator; never dropped, never retried blindly.

Every worker's timer calls `run_due` each second, and an idle one costs nothing: a round (two
indexed queries) runs only when the worker woke the executor (`wake`, after a batch that may have
recorded a refund: carried out within a tick of its commit), when a retry this executor
scheduled is due, or when `idle_poll_s` has passed since the last round (a request recorded by
another process, a lapsed lease of a worker that died).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from backbone.logging import bound_ids, get_logger
from reservation.domain.refunds import RefundStatus, retry_delay, stripe_status
from reservation.service_layer.observers import RefundObserver
from reservation.service_layer.ports import (
    Claimed,
    Refund,
    RefundRefusedError,
    RefundRetryableError,
    ReservationUnitOfWork,
)
from reservation.service_layer.refund_lookup import record_lookup
from reservation.service_layer.refunds import settle_ours

log = get_logger(__name__)


class RefundGateway(Protocol):
    """What the executor needs of Stripe."""

    async def refund(
        self, payment_intent_id: str, amount: int, *, idempotency_key: str, reason: str
    ) -> Refund: ...

    async def charge_refunds(self, charge_id: str) -> list[dict[str, Any]]: ...


@dataclass
class RefundExecutor:
    """Carries out requested refunds; `run_once` is one round (the worker runs it on a timer)."""

    uow: Callable[[str | None], ReservationUnitOfWork]
    gateway: RefundGateway
    observer: RefundObserver
    batch_size: int = 10
    call_bound_s: float = 30.0  # the longest one Stripe call can last, its own retries included
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    idle_poll_s: float = 15.0  # the longest an idle executor goes without looking
    _woken: bool = field(default=True, init=False)  # the first tick looks
    _next_look: float = field(default=0.0, init=False)  # time.monotonic()
    _next_retry: float | None = field(default=None, init=False)

    def wake(self) -> None:
        """A commit may have recorded a refund: look at the next `run_due`."""
        self._woken = True

    async def run_due(self) -> int:
        """Rounds until nothing is due, if woken or a look is due; else nothing (no query).
        How many requests were tried."""
        if not self._woken and time.monotonic() < self._next_look:
            return 0
        self._woken = False  # a wake while the rounds run keeps for the next call
        self._next_retry = None
        tried = 0
        try:
            while claimed := await self.run_once():
                tried += claimed
        except BaseException:
            self._woken = True  # a failed round (the database away) is tried at the next tick
            raise
        idle_until = time.monotonic() + self.idle_poll_s
        retry = self._next_retry
        self._next_look = idle_until if retry is None else min(idle_until, retry)
        return tried

    async def run_once(self) -> int:
        """Carry out the requests that are due; how many were tried."""
        async with self.uow(None) as uow:
            # The round calls Stripe one request after the other: the lease covers them all, so
            # no other executor takes a request this one has not reached yet.
            lease = self.call_bound_s * self.batch_size + 5
            claimed = await uow.refunds.claim_due(self.batch_size, lease)
            await uow.commit()
        for request in claimed:
            with bound_ids(correlation_id=request.correlation_id):
                await self._carry_out(request)
        async with self.uow(None) as uow:
            waiting, oldest = await uow.refunds.waiting()
        self.observer.refunds_waiting(waiting, oldest)
        return len(claimed)

    async def _carry_out(self, request: Claimed) -> None:
        ids = {"refund_key": request.key, "payment_intent_id": request.payment_intent_id}
        try:
            if request.origin == "lookup":
                found = await self.gateway.charge_refunds(str(request.charge_id))
            else:
                refund = await self.gateway.refund(
                    request.payment_intent_id,
                    request.amount,
                    idempotency_key=request.key,
                    reason=request.reason,
                )
        except RefundRetryableError as exc:
            delay = retry_delay(request.attempts, self.backoff_initial_s, self.backoff_max_s)
            async with self.uow(None) as uow:
                when = self.clock() + timedelta(seconds=delay)
                await uow.refunds.retry_later(request.key, when, str(exc))
                await uow.commit()
            soon = time.monotonic() + delay
            self._next_retry = soon if self._next_retry is None else min(self._next_retry, soon)
            self.observer.refund_outcome("retried")
            log.warning(
                "refund.stripe_unavailable",
                **ids,
                attempt=request.attempts,
                retry_in_s=round(delay, 2),
                error=str(exc),
            )
            return
        except RefundRefusedError as exc:
            if await self._refused(request, str(exc)):
                self.observer.refund_outcome(RefundStatus.REFUSED.value)
                log.error("refund.refused", **ids, amount=request.amount, error=str(exc))
            return
        if request.origin == "lookup":
            await self._looked_up(request, found)
            return
        async with self.uow(request.correlation_id) as uow:
            await uow.refunds.lock_payments([request.payment_intent_id])
            row = await uow.refunds.get(request.key)
            outcome = None
            with uow.facts.correlated(request.correlation_id) as written:
                if row is not None:
                    status = stripe_status(refund.status)
                    outcome = await settle_ours(uow, row, refund.id, status, self.clock())
            await uow.commit()
        self.observer.facts_committed(written)
        if outcome is not None:
            self.observer.refund_outcome(outcome)
        log.warning(
            "refund.done",
            **ids,
            stripe_refund_id=refund.id,
            status=refund.status,
            amount=refund.amount,
        )

    async def _looked_up(self, request: Claimed, found: list[dict[str, Any]]) -> None:
        async with self.uow(request.correlation_id) as uow:
            await uow.refunds.lock_payments([request.payment_intent_id])
            with uow.facts.correlated(request.correlation_id) as written:
                recorded = await record_lookup(uow, request.key, found, self.clock())
            await uow.commit()
        self.observer.facts_committed(written)
        if recorded:
            log.info("refund.looked_up", refund_key=request.key, refunds=len(found))

    async def _refused(self, request: Claimed, error: str) -> bool:
        async with self.uow(request.correlation_id) as uow:
            await uow.refunds.lock_payments([request.payment_intent_id])
            row = await uow.refunds.get(request.key)
            if row is None or row.status != RefundStatus.REQUESTED.value:
                return False  # an event recorded Stripe's word meanwhile
            row.status, row.last_error, row.updated_at = (
                RefundStatus.REFUSED.value,
                error[:2000],
                self.clock(),
            )
            await uow.commit()
        return True
