"""Reservation and order facts (contracts.reservation) built from domain events, for the outbox.

The public contract stays what it was on the wire: each domain event (domain.events) maps to
one contract fact here, at the moment the unit of work takes the events of a use case.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from backbone.db import OutboxRecord, add_all
from contracts import headers as h
from contracts.reservation import (
    FactBase,
    OrderConfirmedV1,
    OrderItemV1,
    OrderRefundedV1,
    PaymentDisputeClosedV1,
    PaymentDisputedV1,
    ReservationConfirmedV1,
    ReservationExpiredV1,
    ReservationFlaggedForReviewV1,
    ReservationPaymentFailedV1,
    ReservationRefundedV1,
)
from contracts.topics import RESERVATION_EVENTS
from reservation.domain import events as e


class _Booked(Protocol):
    """What every reservation fact names: a booking (domain.events.Booking, or a row)."""

    @property
    def id(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def user_email(self) -> str: ...
    @property
    def service_name(self) -> str: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime: ...


class _Expiring(_Booked, Protocol):
    @property
    def current_session_id(self) -> str | None: ...


class FactWriter:
    """Writes facts into the outbox of the caller's transaction, keyed by reservation (order) id.

    Facts are kept in memory and inserted together by `flush` (the unit of work calls it before
    committing), in the order they were written.
    """

    def __init__(self, session: AsyncSession, correlation_id: str | None = None) -> None:
        self._session = session
        self._correlation_id = correlation_id
        self._pending: list[OutboxRecord] = []
        self.written: list[FactBase] = []

    @contextmanager
    def correlated(self, correlation_id: str | None) -> Iterator[list[FactBase]]:
        """Facts written inside carry `correlation_id`; the list yielded holds them afterwards."""
        previous, self._correlation_id = self._correlation_id, correlation_id
        start = len(self.written)
        collected: list[FactBase] = []
        try:
            yield collected
        finally:
            self._correlation_id = previous
            collected.extend(self.written[start:])

    async def flush(self) -> None:
        """Insert the facts written so far into the outbox (in the caller's transaction)."""
        pending, self._pending = self._pending, []
        await add_all(self._session, pending)

    @property
    def correlation_id(self) -> str | None:
        """The correlation id facts written now carry."""
        return self._correlation_id

    def _common(self, row: _Booked) -> dict[str, Any]:
        return {
            "event_id": uuid.uuid4(),
            "occurred_at": datetime.now(UTC),
            "correlation_id": self._correlation_id,
            "user_id": row.user_id,
            "user_email": row.user_email,
            "reservation_id": row.id,
            "service_name": row.service_name,
            "starts_at": row.starts_at,
            "ends_at": row.ends_at,
        }

    def _write(self, fact: FactBase) -> None:
        event_type = str(getattr(fact, "event_type", ""))
        self._pending.append(
            OutboxRecord(
                RESERVATION_EVENTS,
                fact.model_dump_json().encode(),
                key=fact.partition_key().encode(),
                headers=h.fact_headers(fact.event_id, event_type, fact.correlation_id),
            )
        )
        self.written.append(fact)

    def write(self, fact: FactBase) -> None:
        """Any fact built elsewhere."""
        self._write(fact)

    def expired(self, row: _Expiring) -> None:
        """The hold ran out unpaid; the slot is free (the sweep and the booking API)."""
        self._write(ReservationExpiredV1(**self._common(row), session_id=row.current_session_id))

    def record(self, event: e.Event) -> None:
        """The contract fact of a domain event (RefundRequested and OrderFlagged have none)."""
        fact = self._fact(event)
        if fact is not None:
            self._write(fact)

    def _fact(self, event: e.Event) -> FactBase | None:
        if isinstance(event, e.Confirmed):
            return ReservationConfirmedV1(
                **self._common(event.booking),
                amount_paid=event.amount_paid,
                currency=event.currency,
                reference=event.booking.reference,
                session_id=event.session_id,
                payment_intent_id=event.payment_intent_id,
                paid_at=event.paid_at,
            )
        if isinstance(event, e.PaymentFailed):
            return ReservationPaymentFailedV1(
                **self._common(event.booking),
                reason=event.reason,
                session_id=event.session_id,
                hold_expires_at=event.booking.hold_expires_at,
            )
        if isinstance(event, e.Expired):
            return ReservationExpiredV1(**self._common(event.booking), session_id=event.session_id)
        if isinstance(event, e.FlaggedForReview):
            return ReservationFlaggedForReviewV1(
                **self._common(event.booking),
                reason=event.reason,
                expected_amount=event.booking.amount,
                expected_currency=event.booking.currency,
                paid_amount=event.paid_amount,
                paid_currency=event.paid_currency,
                session_id=event.session_id,
                payment_intent_id=event.payment_intent_id,
            )
        if isinstance(event, e.Refunded):
            return ReservationRefundedV1(
                **self._common(event.booking),
                amount_refunded=event.amount,
                currency=event.currency,
                refund_id=event.refund_id,
                reason=event.reason,
                session_id=event.session_id,
                payment_intent_id=event.payment_intent_id,
                partial=event.partial,
                refunded_total=event.refunded_total,
            )
        if isinstance(event, e.OrderConfirmed):
            return OrderConfirmedV1(
                **self._order(event.order_id, event.user_id, event.user_email),
                payment_intent_id=event.payment_intent_id,
                items=[
                    OrderItemV1(item_id=i.item_id, title=i.title, price=i.price)
                    for i in event.lines
                ],
                total=sum(i.price for i in event.lines),
                currency=event.currency,
            )
        if isinstance(event, e.OrderRefunded):
            return OrderRefundedV1(
                **self._order(event.order_id, event.user_id, event.user_email),
                payment_intent_id=event.payment_intent_id,
                amount_refunded=event.amount,
                currency=event.currency,
                refund_id=event.refund_id,
                reason=event.reason,
                partial=event.partial,
            )
        if isinstance(event, e.DisputeMoved):
            return self._dispute(event)
        return None

    def _order(self, order_id: str, user_id: str, user_email: str) -> dict[str, Any]:
        # An order's id is its Checkout Session id (orders have no other).
        return {
            "event_id": uuid.uuid4(),
            "occurred_at": datetime.now(UTC),
            "correlation_id": self._correlation_id,
            "user_id": user_id,
            "user_email": user_email,
            "order_id": order_id,
            "session_id": order_id,
        }

    def _dispute(self, event: e.DisputeMoved) -> FactBase:
        common: dict[str, object] = {
            "event_id": uuid.uuid4(),
            "occurred_at": datetime.now(UTC),
            "correlation_id": self._correlation_id,
            "user_id": event.user_id,
            "user_email": event.user_email,
            "dispute_id": event.dispute_id,
            "payment_intent_id": event.payment_intent_id,
            "charge_id": event.charge_id,
            "amount": event.amount,
            "currency": event.currency,
            "reason": event.reason,
            "stripe_status": event.stripe_status,
            "reservation_ids": list(event.reservation_ids),
            "order_id": event.order_id,
        }
        if event.stage == "open":
            return PaymentDisputedV1.model_validate(
                {**common, "evidence_due_by": event.evidence_due_by}
            )
        return PaymentDisputeClosedV1.model_validate({**common, "outcome": event.stage})
