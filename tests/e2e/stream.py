"""Pieces the fault and outage scenarios share: a steady stream of payments and mailbox reads."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from devstack.testing import eventually

from .harness import Harness, User

T = TypeVar("T")

PAYMENTS_PER_FAULT = 3  # payments that must start while each fault is on
PACE_S = 0.5  # the stream's rhythm: a new payment every PACE_S seconds


@dataclass
class Payment:
    """One customer's whole journey in the stream."""

    user: User
    reservation_id: str = ""
    session_id: str = ""
    starts_at: str = ""
    paid: bool = False


@dataclass
class Stream:
    """A steady stream of payments, each one a task, until stopped."""

    h: Harness
    # Patient customers try a step again while the site answers 5xx (an outage), for a while.
    patience_s: float = 0.0
    payments: list[Payment] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def paid(self) -> int:
        return sum(p.paid for p in self.payments)

    async def run(self) -> None:
        while not self.stopping.is_set():
            task = asyncio.create_task(self.one(len(self.payments)))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            # The stream's pace, not a wait for a condition.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), PACE_S)

    async def one(self, n: int) -> None:
        payment = Payment(self.h.user(f"s{n}"))
        self.payments.append(payment)
        try:
            await self.prepare(payment)
            await self.patiently(lambda: self.h.complete(payment.session_id, "paid"))
            payment.paid = True
        except Exception as exc:  # recorded and reported: the checks below need every payment
            self.errors.append(f"payment {n}: {type(exc).__name__}: {exc}")

    async def prepare(self, payment: Payment) -> None:
        """Book a slot and open its Checkout Session (not paid yet)."""
        booked = await self.patiently(lambda: self.h.book(payment.user))
        payment.reservation_id, payment.starts_at = booked["id"], booked["starts_at"]
        session = await self.patiently(lambda: self.h.create_session(payment.user, [booked["id"]]))
        payment.session_id = session["sessionId"]

    async def patiently(self, step: Callable[[], Awaitable[T]]) -> T:
        """`step()`, tried again every second while it fails, for up to `patience_s`.

        A booking that failed after its commit leaves a pending reservation of its own slot
        behind, which its hold's expiry frees: a customer's retry never takes another's slot.
        """
        deadline = time.monotonic() + self.patience_s
        while True:
            try:
                return await step()
            except (AssertionError, httpx.HTTPError):
                if time.monotonic() >= deadline:
                    raise
            with contextlib.suppress(TimeoutError):  # the customer's pause before trying again
                await asyncio.wait_for(self.stopping.wait(), 1.0)

    async def started_since(self, mark: int, count: int = PAYMENTS_PER_FAULT) -> None:
        """Wait until `count` payments were paid after `mark` (payments made during a fault)."""

        async def probe() -> bool:
            return sum(p.paid for p in self.payments[mark:]) >= count

        await eventually(probe, timeout=60, interval=0.1, what="payments during the fault")

    async def stop(self) -> None:
        self.stopping.set()
        await asyncio.gather(*list(self.tasks))


async def mail_snapshot(h: Harness) -> list[dict[str, Any]]:
    """Every message the sink holds, once it stopped changing (read before it is killed)."""
    previous: list[str] = []

    async def stable() -> list[dict[str, Any]] | None:
        nonlocal previous
        messages = await h.messages()
        ids = [m["ID"] for m in messages]
        if ids == previous:
            return messages
        previous = ids
        return None

    result = await eventually(stable, timeout=20, interval=0.3, what="a stable mailbox")
    assert result is not None
    return result
