"""Payment use cases of the worker: each Stripe or checkout signal applied in one transaction."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from backbone.logging import bound_ids, get_logger
from contracts.reservation import (
    REFUND_REASON_CHARGE_REFUNDED,
    REFUND_REASON_LATE_PAYMENT_SLOT_TAKEN,
)
from reservation.adapters.metrics import BEATS_ONLY, CHARGE_REFUNDED, record_committed
from reservation.adapters.stripe_gateway import Refund
from reservation.adapters.tables import ReservationRow
from reservation.domain.model import Slot, Status
from reservation.domain.orders import CartPayment, OrderDraft
from reservation.domain.payments import Action, Attempt, Stage, advances, amount_problem, decide
from reservation.service_layer.orders import apply_order
from reservation.service_layer.unit_of_work import UnitOfWork

log = get_logger(__name__)

REFUND_REASON_DUPLICATE_PAYMENT = "duplicate_payment"


class RefundGateway(Protocol):
    """What the worker needs of Stripe."""

    async def refund(
        self, payment_intent_id: str, amount: int, *, idempotency_key: str, reason: str
    ) -> Refund: ...


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


@dataclass
class PaymentService:
    """Applies signals to reservations: inbox claim, state change and facts in one transaction."""

    uow: Callable[[str | None], UnitOfWork]
    gateway: RefundGateway
    consumer: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    async def acknowledge(self, event_id: str) -> None:
        """Record an event we do not act on, so reconciliation sees it was received."""
        async with self.uow(None) as uow:
            await uow.claim(self.consumer, event_id)

    async def on_session(self, signal: SessionSignal) -> None:
        """A checkout session reached a stage: move its reservations and its beats order."""
        with bound_ids(session_id=signal.session_id):
            started = time.perf_counter()
            async with self.uow(signal.correlation_id) as uow:
                if not await self._apply_session(uow, signal):
                    return
                written = list(uow.facts.written)
            # The funnel counts reservation payments; a beats-only session has its own label.
            step = signal.step if signal.reservation_ids else BEATS_ONLY
            delay = record_committed(
                step, written, started=started, event_created=signal.event_created
            )
            log.info(
                "payment.committed",
                step=step,
                reservation_ids=signal.reservation_ids,
                payment_intent_id=signal.payment_intent_id,
                facts=[getattr(f, "event_type", "") for f in written],
                stripe_to_commit_s=delay,
            )

    async def _apply_session(self, uow: UnitOfWork, signal: SessionSignal) -> bool:
        """The transaction's work; False for an event already processed (nothing to commit)."""
        if not await uow.claim(self.consumer, signal.event_id):
            log.info("payment.duplicate_ignored")
            return False
        # Reservations first, then the order: every transaction locks in this order.
        if signal.reservation_ids:
            await self._apply_reservations(uow, signal)
        if signal.order is not None:
            await apply_order(uow, signal.order, signal.cart_payment(self.clock()), self.clock())
        return True

    async def _apply_reservations(self, uow: UnitOfWork, signal: SessionSignal) -> None:
        rows = await uow.repo.lock_many(signal.reservation_ids)
        missing = set(signal.reservation_ids) - {r.id for r in rows}
        if missing:
            log.warning("payment.unknown_reservations", reservation_ids=sorted(missing))
        problem = None
        if signal.stage is Stage.PAID:
            problem = amount_problem(
                expected_total=sum(r.amount for r in rows),
                expected_currency=rows[0].currency if rows else "",
                paid_total=signal.amount_total,
                paid_currency=signal.currency,
                cart_total=signal.cart_total,
                services_total_claimed=signal.services_total,
            )
        for row in rows:
            with bound_ids(reservation_id=row.id, session_id=signal.session_id):
                await self._apply(uow, row, signal, problem, len(rows))

    async def _apply(
        self,
        uow: UnitOfWork,
        row: ReservationRow,
        signal: SessionSignal,
        problem: str | None,
        session_size: int,
    ) -> None:
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
        log.info("payment.decided", action=action.value, stage=signal.stage.value, was=row.status)
        if action is Action.NOTHING:
            return
        row.updated_at = now
        if action is Action.PROCESS:
            row.status, row.current_session_id = Status.PROCESSING, signal.session_id
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
                await self._refund(
                    uow, row, signal, session_size, REFUND_REASON_LATE_PAYMENT_SLOT_TAKEN
                )
                row.status = Status.REFUNDED
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
        if signal.payment_intent_id is None:
            raise RuntimeError(f"session {signal.session_id} paid without a payment intent")
        amount = self._paid_portion(row, signal, session_size)
        refund = await self.gateway.refund(
            signal.payment_intent_id,
            amount,
            idempotency_key=f"reservation-refund:{row.id}:{signal.session_id}",
            reason=reason,
        )
        log.warning("payment.refunded", reason=reason, refund_id=refund.id, amount=amount)
        if reason != REFUND_REASON_DUPLICATE_PAYMENT:
            row.refund_id, row.refunded_at = refund.id, self.clock()
        uow.facts.refunded(
            row,
            amount=refund.amount,
            currency=refund.currency,
            refund_id=refund.id,
            reason=reason,
            session_id=signal.session_id,
            payment_intent_id=signal.payment_intent_id,
        )

    async def on_charge_refunded(
        self,
        event_id: str,
        *,
        charge_id: str,
        payment_intent_id: str | None,
        fully_refunded: bool,
        correlation_id: str | None = None,
        event_created: datetime | None = None,
    ) -> None:
        """A refund made in Stripe (dashboard, support): the paid reservations become refunded."""
        started = time.perf_counter()
        async with self.uow(correlation_id) as uow:
            if not await uow.claim(self.consumer, event_id) or payment_intent_id is None:
                return
            await self._refunded_in_stripe(uow, charge_id, payment_intent_id, fully_refunded)
            written = list(uow.facts.written)
        record_committed(CHARGE_REFUNDED, written, started=started, event_created=event_created)

    async def _refunded_in_stripe(
        self, uow: UnitOfWork, charge_id: str, payment_intent_id: str, fully_refunded: bool
    ) -> None:
        if not fully_refunded:
            # Partial refunds are ours (a late or duplicate payment) or an operator's
            # goodwill: the reservation itself stands.
            log.info("payment.partial_refund_ignored", charge_id=charge_id)
            return
        for row in await uow.repo.by_payment_intent(payment_intent_id):
            if row.status not in (Status.SUCCEEDED, Status.NEEDS_REVIEW):
                continue
            row.status, row.refund_id = Status.REFUNDED, charge_id
            row.refunded_at = row.updated_at = self.clock()
            log.info(
                "payment.refunded_in_stripe",
                charge_id=charge_id,
                reservation_id=row.id,
                session_id=row.paid_session_id,
            )
            uow.facts.refunded(
                row,
                amount=row.paid_amount if row.paid_amount is not None else row.amount,
                currency=row.paid_currency or row.currency,
                refund_id=charge_id,
                reason=REFUND_REASON_CHARGE_REFUNDED,
                session_id=row.paid_session_id,
                payment_intent_id=payment_intent_id,
            )
