"""Payment use cases of the worker: Stripe and checkout signals applied, a batch per transaction.

A batch (what the worker found waiting, or one message) is applied in order in one transaction:
inbox claims first (duplicates skipped), then every reservation and order the batch touches is
locked up front in id order (one lock order everywhere, so concurrent workers never deadlock),
then each signal is decided in memory as if it came alone, and the writes go in together.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from backbone.logging import bound_ids, get_logger
from contracts.reservation import (
    REFUND_REASON_DUPLICATE_PAYMENT,
    REFUND_REASON_LATE_PAYMENT_SLOT_TAKEN,
    FactBase,
)
from reservation.adapters.metrics import BEATS_ONLY, CHARGE_REFUNDED, record_committed
from reservation.adapters.tables import ReservationRow
from reservation.domain.model import Slot, Status
from reservation.domain.orders import CartPayment, OrderDraft
from reservation.domain.payments import Action, Attempt, Stage, advances, amount_problem, decide
from reservation.service_layer.disputes import (
    DisputeSignal,
    PaymentDeclined,
    apply_dispute,
    committed,
)
from reservation.service_layer.orders import apply_order
from reservation.service_layer.refund_apply import apply_waiting
from reservation.service_layer.refund_lookup import request_lookup
from reservation.service_layer.refunds import (
    RefundSignal,
    record_stripe_refund,
    request_refund,
)
from reservation.service_layer.unit_of_work import UnitOfWork

log = get_logger(__name__)


@dataclass(frozen=True)
class SessionSignal:
    """What one event says about one checkout session: the stage it reached, and any payment."""

    event_id: str
    session_id: str
    session_created: datetime
    stage: Stage
    reservation_ids: list[str]
    payment_intent_id: str | None = None
    amount_total: int | None = None
    currency: str | None = None
    cart_total: int = 0
    services_total: int | None = None
    paid_at: datetime | None = None
    failure_reason: str = "the payment did not go through"
    correlation_id: str | None = None
    step: str | None = None  # the funnel step it is (metrics), e.g. completed
    event_created: datetime | None = None  # Stripe's event `created`, when it came from Stripe
    order: OrderDraft | None = None  # the session's beats, when it sells any
    expires_at: datetime | None = None  # when the session's page closes, if it is still open
    # Why a payment is not what checkout created (service_layer.provenance): flagged if set.
    provenance_problem: str | None = None

    @property
    def attempt(self) -> Attempt:
        """The attempt this signal moves."""
        return Attempt(self.session_id, self.session_created, self.stage)

    def cart_payment(self, now: datetime) -> CartPayment | None:
        """What the session paid for its beats, once it is paid."""
        if self.stage is not Stage.PAID:
            return None
        return CartPayment.of_session(
            amount_total=self.amount_total,
            services_total=self.services_total,
            currency=self.currency,
            payment_intent_id=self.payment_intent_id,
            paid_at=self.paid_at or now,
        )


@dataclass(frozen=True)
class Unhandled:
    """An event we do not act on: recorded in the inbox, so reconciliation sees it arrived."""

    event_id: str
    correlation_id: str | None = None


Signal = SessionSignal | RefundSignal | DisputeSignal | PaymentDeclined | Unhandled


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

    uow: Callable[[str | None], UnitOfWork]
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
                applied.append((signal, written, actions))
            await uow.commit()
        for signal, written, actions in applied:
            with _ids(signal):
                self._committed(signal, written, actions, started)

    async def _lock_up_front(self, uow: UnitOfWork, signals: Sequence[Signal]) -> None:
        """Payments, then reservations, then orders, each in id order: every transaction locks
        in this order."""
        sessions = [s for s in signals if isinstance(s, SessionSignal)]
        payments = [i for s in signals if isinstance(s, RefundSignal) for i in s.payment_intent_ids]
        payments += [str(s.payment_intent_id) for s in sessions if _settles(s)]
        if payments:
            await uow.refunds.lock_payments(payments)
            await uow.refunds.prefetch_waiting(payments)
        reservation_ids = [r for s in sessions for r in s.reservation_ids]
        if reservation_ids:
            await uow.repo.lock_many(reservation_ids)
            await uow.repo.load_attempts(reservation_ids)
        drafts = [s.order for s in sessions if s.order is not None]
        if drafts:
            await uow.orders.lock_or_create_many(drafts)

    async def _apply_one(self, uow: UnitOfWork, signal: Signal) -> dict[str, str]:
        """Apply one signal; what it did to each reservation (id -> action)."""
        actions: dict[str, str] = {}
        if isinstance(signal, SessionSignal):
            # Checked against checkout's record of the session, never the event alone.
            from reservation.service_layer import provenance

            for vetted in await provenance.vet(uow, signal, self.clock()):
                if vetted.reservation_ids:
                    actions |= await self._apply_reservations(uow, vetted)
                if vetted.order is not None:
                    now = self.clock()
                    await apply_order(uow, vetted.order, vetted.cart_payment(now), now)
                if _settles(vetted):
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
        self, signal: Signal, written: list[FactBase], actions: dict[str, str], started: float
    ) -> None:
        """Metrics and the log line of a signal whose transaction committed: the audit line of
        what it did to each reservation (`actions`) and the facts it published."""
        if isinstance(signal, RefundSignal):
            record_committed(
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
            committed(signal, actions)
            return
        if not isinstance(signal, SessionSignal):
            return
        # The funnel counts reservation payments; a beats-only session has its own label.
        step = signal.step if signal.reservation_ids else BEATS_ONLY
        delay = record_committed(step, written, started=started, event_created=signal.event_created)
        log.info(
            "payment.committed",
            step=step,
            reservation_ids=signal.reservation_ids,
            actions=actions,
            payment_intent_id=signal.payment_intent_id,
            facts=[getattr(f, "event_type", "") for f in written],
            stripe_to_commit_s=delay,
        )

    async def _apply_reservations(self, uow: UnitOfWork, signal: SessionSignal) -> dict[str, str]:
        rows = await uow.repo.lock_many(signal.reservation_ids)
        missing = set(signal.reservation_ids) - {r.id for r in rows}
        if missing:
            log.warning("payment.unknown_reservations", reservation_ids=sorted(missing))
        problem = signal.provenance_problem
        if signal.stage is Stage.PAID and problem is None:
            problem = amount_problem(
                expected_total=sum(r.amount for r in rows),
                expected_currency=rows[0].currency if rows else "",
                paid_total=signal.amount_total,
                paid_currency=signal.currency,
                cart_total=signal.cart_total,
                services_total_claimed=signal.services_total,
            )
        actions: dict[str, str] = {}
        for row in rows:
            with bound_ids(reservation_id=row.id):
                action = await self._apply(uow, row, signal, problem, len(rows))
            actions[row.id] = action.value
        return actions

    async def _apply(
        self,
        uow: UnitOfWork,
        row: ReservationRow,
        signal: SessionSignal,
        problem: str | None,
        session_size: int,
    ) -> Action:
        """Decide what `signal` does to `row`, do it, and say what it was."""
        now = self.clock()
        attempts = {a.session_id: a for a in await uow.repo.attempts(row.id)}
        known = attempts.pop(signal.session_id, None)
        newest_other = max(attempts.values(), key=lambda a: a.order_key, default=None)
        action = decide(
            Status(row.status),
            row.paid_session_id,
            signal.attempt,
            known,
            newest_other,
            hold_valid=row.hold_expires_at > now,
            amount_ok=problem is None,
        )
        if advances(known.stage if known else None, signal.stage):
            await uow.repo.record_attempt(row.id, signal.attempt)
        # Debug: at thousands of payments a second a line per decision costs more than the
        # decision; payment.committed, once committed, names each reservation's action.
        log.debug("payment.decided", action=action.value, stage=signal.stage.value, was=row.status)
        if action is not Action.NOTHING:
            row.updated_at = now
            await self._act(uow, row, signal, action, problem=problem, session_size=session_size)
        return action

    async def _act(
        self,
        uow: UnitOfWork,
        row: ReservationRow,
        signal: SessionSignal,
        action: Action,
        *,
        problem: str | None,
        session_size: int,
    ) -> None:
        if action is Action.PROCESS:
            row.status, row.current_session_id = Status.PROCESSING, signal.session_id
            # Until when the slot is really held (service_layer.overdue, the API's hold).
            row.session_expires_at = signal.expires_at if signal.stage is Stage.OPEN else None
        elif action is Action.RELEASE:
            row.status, row.current_session_id = Status.PENDING, signal.session_id
        elif action is Action.EXPIRE:
            row.status, row.current_session_id = Status.EXPIRED, signal.session_id
            uow.facts.expired(row)
        elif action is Action.FAIL:
            row.status, row.current_session_id = Status.FAILED, signal.session_id
            uow.facts.payment_failed(row, signal.failure_reason, signal.session_id)
        elif action in (Action.CONFIRM, Action.FLAG):
            self._settle(uow, row, signal, problem, session_size)
        elif action is Action.LATE_PAYMENT:
            slot = Slot(row.resource, row.starts_at, row.ends_at)
            if await uow.repo.live_overlapping(slot) == 0:
                # If a booking slips in meanwhile, the exclusion constraint fails this
                # transaction and the retry finds the slot taken: then the refund happens.
                self._settle(uow, row, signal, problem, session_size)
                await uow.session.flush()
            else:
                # The reservation stays expired (its slot is someone else's) until Stripe has
                # the refund: `refunded` always comes with Stripe's refund id.
                await self._refund(
                    uow, row, signal, session_size, REFUND_REASON_LATE_PAYMENT_SLOT_TAKEN
                )
        elif action is Action.REFUND_EXTRA:
            await self._refund(uow, row, signal, session_size, REFUND_REASON_DUPLICATE_PAYMENT)

    def _paid_portion(self, row: ReservationRow, signal: SessionSignal, session_size: int) -> int:
        if session_size == 1 and signal.amount_total is not None:
            return signal.amount_total - signal.cart_total
        return row.amount

    def _settle(
        self,
        uow: UnitOfWork,
        row: ReservationRow,
        signal: SessionSignal,
        problem: str | None,
        session_size: int,
    ) -> None:
        row.paid_session_id = signal.session_id
        row.current_session_id = signal.session_id
        row.payment_intent_id = signal.payment_intent_id
        row.paid_amount = self._paid_portion(row, signal, session_size)
        row.paid_currency = (signal.currency or row.currency).lower()
        row.paid_at = signal.paid_at or self.clock()
        if problem is None:
            row.status = Status.SUCCEEDED
            uow.facts.confirmed(row)
            return
        row.status, row.review_reason = Status.NEEDS_REVIEW, problem
        log.warning("payment.flagged_for_review", reason=problem)
        uow.facts.flagged(
            row,
            reason=problem,
            expected_amount=row.amount,
            paid_amount=max(row.paid_amount, 0),
            paid_currency=row.paid_currency,
            session_id=signal.session_id,
        )

    async def _refund(
        self,
        uow: UnitOfWork,
        row: ReservationRow,
        signal: SessionSignal,
        session_size: int,
        reason: str,
    ) -> None:
        """Record the decision; the refund executor calls Stripe once this has committed."""
        if signal.payment_intent_id is None:
            raise RuntimeError(f"session {signal.session_id} paid without a payment intent")
        await request_refund(
            uow,
            row,
            payment_intent_id=signal.payment_intent_id,
            amount=self._paid_portion(row, signal, session_size),
            currency=signal.currency or row.currency,
            reason=reason,
            session_id=signal.session_id,
            correlation_id=signal.correlation_id,
        )


def _settles(signal: SessionSignal) -> bool:
    """Whether the signal is a payment (which refunds recorded before it may wait for)."""
    return signal.stage is Stage.PAID and signal.payment_intent_id is not None
