"""A payment is confirmed on what checkout created, never on the event's bytes alone.

A `checkout.session.completed` (or `async_payment_succeeded`) event names its reservations and
amount itself: anyone holding a leaked signing secret could forge one for a session checkout never
opened. So a paid signal counts only against checkout's own record of the session (the
CheckoutSessionCreatedV1 fact on checkout.sessions, kept in `checkout_session_facts`): amount,
currency and reservations must match, or the reservation is flagged for review.

The fact travels on another topic and may arrive after Stripe's event (checkout's relay lagging,
the worker reading one topic ahead of the other). A paid signal with no fact yet is parked in
`unverified_payments` and applied as `awaiting` meanwhile (the reservation is processing, its
slot held, nothing confirmed). When the fact arrives, the parked payment is checked and applied in
the fact's own transaction. When no fact arrives within the grace period, the session is one
checkout never created: the sweep applies the payment flagged `unknown_session` (the money
is accounted for, an operator decides), never confirmed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from pydantic import TypeAdapter

from backbone.logging import get_logger
from reservation.domain.payments import Stage
from reservation.service_layer.ports import ReservationUnitOfWork
from reservation.service_layer.signals import SessionSignal

log = get_logger(__name__)

UNKNOWN_SESSION = "unknown_session"
_SIGNAL = TypeAdapter(SessionSignal)


async def vet(
    uow: ReservationUnitOfWork, signal: SessionSignal, now: datetime
) -> list[SessionSignal]:
    """The signals to apply in place of `signal`, inside its transaction (see the module)."""
    if signal.stage is Stage.OPEN:  # checkout's fact: remember it, release what waited for it
        await _remember(uow, signal)
        released = await _unpark(uow, "session_id", signal.session_id)
        for waiting in released:
            log.info("payment.checkout_fact_arrived", paid_event_id=waiting.event_id)
        return [signal, *(_checked(waiting, signal) for waiting in released)]
    if signal.stage is not Stage.PAID:
        return [signal]
    if signal.provenance_problem == UNKNOWN_SESSION:  # the sweep: still unclaimed by a fact?
        original = signal.event_id.removesuffix(":unverified")
        return [signal] if await _unpark(uow, "event_id", original) else []
    fact = await _fact(uow, signal.session_id)
    if fact is None:
        await _park(uow, signal, now)
        log.warning("payment.awaiting_checkout_fact", grace="until the fact or the sweep")
        return [dataclasses.replace(signal, stage=Stage.AWAITING)]
    return [_checked(signal, fact)]


def _checked(paid: SessionSignal, fact: SessionSignal) -> SessionSignal:
    """`paid`, flagged when it is not what checkout created for the session."""
    problem = None
    if (paid.currency or "").lower() != (fact.currency or "").lower():
        problem = "currency_mismatch"
    elif paid.amount_total != fact.amount_total:
        problem = "amount_mismatch"
    elif not set(paid.reservation_ids) <= set(fact.reservation_ids):
        problem = "reservations_mismatch"
    if problem is None:
        return paid
    log.warning("payment.not_what_checkout_created", reason=problem, session_id=paid.session_id)
    return dataclasses.replace(paid, provenance_problem=problem)


async def _remember(uow: ReservationUnitOfWork, fact: SessionSignal) -> None:
    await uow.checkout.remember(
        fact.session_id, fact.amount_total, fact.currency, list(fact.reservation_ids)
    )


async def _fact(uow: ReservationUnitOfWork, session_id: str) -> SessionSignal | None:
    created = await uow.checkout.created(session_id)
    if created is None:
        return None
    amount_total, currency, reservation_ids = created
    return SessionSignal(
        event_id="",
        session_id=session_id,
        session_created=datetime.min,
        stage=Stage.OPEN,
        reservation_ids=reservation_ids,
        amount_total=amount_total,
        currency=currency,
    )


async def _park(uow: ReservationUnitOfWork, signal: SessionSignal, now: datetime) -> None:
    payload = _SIGNAL.dump_json(signal).decode()
    await uow.checkout.park(signal.event_id, signal.session_id, payload, now)


async def _unpark(uow: ReservationUnitOfWork, column: str, value: str) -> list[SessionSignal]:
    """Take parked payments out (one transaction wins: the fact's or the sweep's)."""
    return [_SIGNAL.validate_python(p) for p in await uow.checkout.unpark(column, value)]


async def flag_overdue(
    uow: Callable[[], ReservationUnitOfWork],
    apply: Callable[[list[SessionSignal]], Awaitable[None]],
    now: datetime,
    grace_s: float,
    limit: int = 100,
) -> int:
    """Payments parked longer than `grace_s` with no fact from checkout: applied flagged
    (`unknown_session`). Each under its own inbox id, so a second sweep of one is a no-op."""
    async with uow() as reading:
        parked = await reading.checkout.parked_before(now - timedelta(seconds=grace_s), limit)
        overdue = [_SIGNAL.validate_python(p) for p in parked]
    flagged = [
        dataclasses.replace(
            s, event_id=f"{s.event_id}:unverified", provenance_problem=UNKNOWN_SESSION
        )
        for s in overdue
    ]
    for signal in flagged:
        log.warning("payment.unknown_session", session_id=signal.session_id)
        await apply([signal])
    return len(flagged)
