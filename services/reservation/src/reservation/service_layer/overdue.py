"""Overdue sessions: a reservation still `processing` after its session should have ended is
resolved by asking Stripe for the session's state and applying it as if its event had arrived.

A lost `checkout.session.expired` or `.completed` event would otherwise hold the slot forever
(`processing` is never swept). Once the session's `expires_at` plus a grace has passed, the
session is read at Stripe; one still open then (Stripe's own expiry lags) is expired through
Stripe, so its state is final. The answer becomes a Stripe-shaped event and goes through the
worker's own path (`PaymentService.apply`: inbox claim, decision, facts, one transaction).

Its event id is deterministic, `evt_overdue_<session>_<type>`: two workers (or two ticks)
resolving the same session claim the same inbox row, so it is applied once. A real event that
arrives later has Stripe's own id and is applied too, but changes nothing: an attempt only moves
forward and the synthetic one already took it to its final stage. No HTTP call is made while a
row is locked: the candidates are read in a short transaction, Stripe is asked with none open.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from backbone.logging import bound_ids, get_logger
from contracts import stripe as s
from contracts.stripe import StripeEvent
from reservation.service_layer.messages import session_signal
from reservation.service_layer.observers import OverdueObserver
from reservation.service_layer.payments import PaymentService
from reservation.service_layer.ports import ReservationUnitOfWork

log = get_logger(__name__)


class SessionLookup(Protocol):
    """What the look-up needs of Stripe."""

    async def retrieve_session(self, session_id: str) -> dict[str, Any]: ...

    async def expire_session(self, session_id: str) -> dict[str, Any]: ...


def synthetic_event(session: dict[str, Any], *, prefix: str, now: int) -> StripeEvent | None:
    """The event Stripe would have sent for the session's current state (None while open).

    The id is `evt_<prefix>_<session>_<type>`: the same state looked up twice is one event.
    """
    status = session.get("status")
    if status == "complete":
        event_type = s.CHECKOUT_SESSION_COMPLETED
    elif status == "expired":
        event_type = s.CHECKOUT_SESSION_EXPIRED
    else:
        return None
    suffix = event_type.removeprefix(s.CHECKOUT_SESSION_PREFIX)
    return StripeEvent.model_validate(
        {
            "id": f"evt_{prefix}_{session['id']}_{suffix}",
            "type": event_type,
            "created": now,
            "livemode": bool(session.get("livemode", False)),
            "data": {"object": session},
        }
    )


@dataclass
class OverdueSessions:
    """Finds overdue processing reservations and resolves their sessions through Stripe."""

    uow: Callable[[], ReservationUnitOfWork]
    stripe: SessionLookup
    payments: PaymentService
    grace: timedelta
    clock: Callable[[], datetime]
    observer: OverdueObserver
    batch_size: int = 50

    async def overdue_session_ids(self) -> list[str]:
        """Sessions whose page should have closed a grace ago, their reservation still waiting."""
        async with self.uow() as uow:
            return await uow.reads.overdue_session_ids(self.clock() - self.grace, self.batch_size)

    async def resolve(self, session_id: str) -> str:
        """Look one session up at Stripe and apply what it says; the outcome, for metrics."""
        with bound_ids(session_id=session_id, correlation_id=session_id):
            session = await self.stripe.retrieve_session(session_id)
            now = self.clock()
            if session.get("status") == "open":
                expires_at = int(session.get("expires_at") or 0)
                if expires_at > (now - self.grace).timestamp():
                    log.info("overdue.still_open", expires_at=expires_at)
                    return "still_open"
                session = await self.stripe.expire_session(session_id)
            event = synthetic_event(session, prefix="overdue", now=int(time.time()))
            signal = session_signal(event, session_id) if event is not None else None
            if signal is None:
                log.warning("overdue.unresolvable", stripe_status=session.get("status"))
                return "unresolvable"
            await self.payments.apply([signal])
            outcome = str(session.get("status"))
            log.info("overdue.resolved", stripe_status=outcome, event_id=event.id if event else "")
            return outcome

    async def run_once(self) -> int:
        """Resolve every overdue session found now; how many were resolved."""
        resolved = 0
        for session_id in await self.overdue_session_ids():
            try:
                outcome = await self.resolve(session_id)
            except Exception:
                # One session Stripe cannot answer for must not stop the others; next tick.
                log.exception("overdue.failed", session_id=session_id)
                self.observer.overdue_resolved("error")
                continue
            self.observer.overdue_resolved(outcome)
            resolved += outcome in ("complete", "expired")
        return resolved
