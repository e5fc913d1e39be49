"""Payment use cases of the worker: Stripe and checkout signals applied, a batch per transaction.

A batch (what the worker found waiting, or one message) is applied in order in one transaction:
inbox claims first (duplicates skipped), then every payment, reservation and order the batch
touches is locked up front (payments, then reservations, then orders, each in id order: one lock
order everywhere, so concurrent workers never deadlock), then each signal is applied to the
aggregates in memory as if it came alone (domain.reservation, domain.orders decide and record
events), its events become outbox facts and refund requests, and the writes go in together at
the commit. Nothing here calls Stripe: refunds are carried out after the commit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from backbone.logging import bound_ids, get_logger
from contracts.reservation import FactBase
from reservation.domain.payments import Action, Stage, amount_problem
from reservation.domain.reservation import Reservation, SessionPayment
from reservation.service_layer import provenance
from reservation.service_layer.disputes import (
    DisputeSignal,
    PaymentDeclined,
    apply_dispute,
    committed,
)
from reservation.service_layer.orders import apply_order
from reservation.service_layer.ports import PaymentObserver, ReservationUnitOfWork
from reservation.service_layer.refund_apply import apply_waiting
from reservation.service_layer.refund_lookup import request_lookup
from reservation.service_layer.refunds import RefundSignal, record_stripe_refund
from reservation.service_layer.signals import SessionSignal, Signal, Unhandled

__all__ = ["PaymentService", "SessionSignal", "Signal", "Unhandled"]

log = get_logger(__name__)

# The processing-time label of a session without reservations (beats only): not a funnel step.
BEATS_ONLY = "beats_only"
CHARGE_REFUNDED = "charge_refunded"


def _ids(signal: Signal) -> AbstractContextManager[None]:
    """The ids of every log line about `signal`, its session's among them (in a batch, the
    processor binds none)."""
    session_id = signal.session_id if isinstance(signal, SessionSignal) else None
    return bound_ids(
        event_id=signal.event_id, correlation_id=signal.correlation_id, session_id=session_id
    )


@dataclass
class PaymentService:
    """Applies signals to reservations: inbox claims, state changes and facts in one transaction."""

    uow: Callable[[str | None], ReservationUnitOfWork]
    consumer: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    async def apply(self, signals: Sequence[Signal]) -> None:
        """Apply `signals` in order, in one transaction; an event already processed is skipped.

        All or nothing: if any signal fails, none of the batch is applied (the caller splits it).
        """
        started = time.perf_counter()
        applied: list[tuple[Signal, list[FactBase], dict[str, str]]] = []
        async with self.uow(None) as uow:
            fresh = await uow.claim_many(self.consumer, [s.event_id for s in signals])
            await self._lock_up_front(uow, signals)
            for signal in signals:
                with _ids(signal):
                    if signal.event_id not in fresh:
                        log.info("payment.duplicate_ignored")
                        continue
                    fresh.discard(signal.event_id)  # a later copy in the batch is a duplicate
                    with uow.facts.correlated(signal.correlation_id) as written:
                        actions = await self._apply_one(uow, signal)
                        await uow.publish()
                applied.append((signal, written, actions))
            await uow.commit()
        for signal, written, actions in applied:
            with _ids(signal):
                self._committed(uow.observer, signal, written, actions, started)

    async def _lock_up_front(self, uow: ReservationUnitOfWork, signals: Sequence[Signal]) -> None:
        """Payments, then reservations, then orders, each in id order: every transaction locks
        in this order."""
        sessions = [s for s in signals if isinstance(s, SessionSignal)]
        payments = [i for s in signals if isinstance(s, RefundSignal) for i in s.payment_intent_ids]
        payments += [str(s.payment_intent_id) for s in sessions if s.settles]
        if payments:
            await uow.refunds.lock_payments(payments)
            await uow.refunds.prefetch_waiting(payments)
        reservation_ids = [r for s in sessions for r in s.reservation_ids]
        if reservation_ids:
            await uow.repo.lock_many(reservation_ids)
        drafts = [s.order for s in sessions if s.order is not None]
        if drafts:
            await uow.orders.lock_or_create_many(drafts)
        # Checkout's records of the paid sessions in one query (provenance.vet reads them), now
        # that their reservations are locked: a fact for them has committed or waits for us.
        paid = [s.session_id for s in sessions if s.stage is Stage.PAID]
        if paid:
            await uow.checkout.prefetch(paid)

    async def _apply_one(self, uow: ReservationUnitOfWork, signal: Signal) -> dict[str, str]:
        """Apply one signal; what it did to each reservation (id -> action)."""
        actions: dict[str, str] = {}
        if isinstance(signal, SessionSignal):
            # Checked against checkout's record of the session, never the event alone.
            for vetted in await provenance.vet(uow, signal, self.clock()):
                if vetted.reservation_ids:
                    actions |= await self._apply_reservations(uow, vetted)
                if vetted.order is not None:
                    now = self.clock()
                    await apply_order(uow, vetted.order, vetted.cart_payment(now), now)
                if vetted.settles:
                    # Refunds Stripe told of before this payment was applied apply now.
                    await apply_waiting(uow, str(vetted.payment_intent_id), self.clock())
        elif isinstance(signal, RefundSignal):
            for refund in signal.refunds:
                await record_stripe_refund(uow, refund, self.clock())
            for charge in signal.charges:
                await request_lookup(uow, charge)
        elif isinstance(signal, DisputeSignal):
            actions = await apply_dispute(uow, signal, self.clock())
        elif isinstance(signal, PaymentDeclined):
            pass  # the inbox claim is all: committed() counts it once
        else:
            log.debug("stripe_event.ignored")
        return actions

    def _committed(
        self,
        observer: PaymentObserver,
        signal: Signal,
        written: list[FactBase],
        actions: dict[str, str],
        started: float,
    ) -> None:
        """Metrics and the log line of a signal whose transaction committed: the audit line of
        what it did to each reservation (`actions`) and the facts it published."""
        if isinstance(signal, RefundSignal):
            observer.committed(
                CHARGE_REFUNDED, written, started=started, event_created=signal.event_created
            )
            log.info(
                "refund.committed",
                refunds={r.stripe_refund_id: r.status.value for r in signal.refunds},
                payment_intent_ids=signal.payment_intent_ids,
                facts=[getattr(f, "event_type", "") for f in written],
            )
            return
        if isinstance(signal, DisputeSignal | PaymentDeclined):
            committed(observer, signal, actions)
            return
        if not isinstance(signal, SessionSignal):
            return
        # The funnel counts reservation payments; a beats-only session has its own label.
        step = signal.step if signal.reservation_ids else BEATS_ONLY
        delay = observer.committed(
            step, written, started=started, event_created=signal.event_created
        )
        log.info(
            "payment.committed",
            step=step,
            reservation_ids=signal.reservation_ids,
            actions=actions,
            payment_intent_id=signal.payment_intent_id,
            facts=[getattr(f, "event_type", "") for f in written],
            stripe_to_commit_s=delay,
        )

    async def _apply_reservations(
        self, uow: ReservationUnitOfWork, signal: SessionSignal
    ) -> dict[str, str]:
        reservations = await uow.repo.lock_many(signal.reservation_ids)
        missing = set(signal.reservation_ids) - {r.id for r in reservations}
        if missing:
            log.warning("payment.unknown_reservations", reservation_ids=sorted(missing))
        problem = signal.provenance_problem
        if signal.stage is Stage.PAID and problem is None:
            problem = amount_problem(
                expected_total=sum(r.amount for r in reservations),
                expected_currency=reservations[0].currency if reservations else "",
                paid_total=signal.amount_total,
                paid_currency=signal.currency,
                cart_total=signal.cart_total,
                services_total_claimed=signal.services_total,
            )
        payment = signal.payment(len(reservations))
        actions: dict[str, str] = {}
        for reservation in reservations:
            with bound_ids(reservation_id=reservation.id):
                action = await self._apply(uow, reservation, payment, problem)
            actions[reservation.id] = action.value
        return actions

    async def _apply(
        self,
        uow: ReservationUnitOfWork,
        reservation: Reservation,
        payment: SessionPayment,
        problem: str | None,
    ) -> Action:
        """Apply what a session says to one reservation and say what it did."""
        was = reservation.status.value
        slot_free = None
        if reservation.needs_slot_check(payment):
            slot_free = await uow.repo.slot_free(reservation)
        action = reservation.apply(payment, self.clock(), problem=problem, slot_free=slot_free)
        # Debug: at thousands of payments a second a line per decision costs more than the
        # decision; payment.committed, once committed, names each reservation's action.
        log.debug(
            "payment.decided", action=action.value, stage=payment.attempt.stage.value, was=was
        )
        if action is Action.FLAG or (action is Action.LATE_PAYMENT and problem and slot_free):
            log.warning("payment.flagged_for_review", reason=problem)
        return action
