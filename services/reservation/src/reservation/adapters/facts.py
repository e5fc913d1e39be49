"""Reservation and order facts (contracts.reservation) built from a row, written to the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backbone.db.outbox import OutboxRecord, add_all
from contracts import headers as h
from contracts.reservation import (
    FactBase,
    OrderConfirmedV1,
    OrderItemV1,
    OrderRefundedV1,
    ReservationConfirmedV1,
    ReservationExpiredV1,
    ReservationFlaggedForReviewV1,
    ReservationPaymentFailedV1,
    ReservationRefundedV1,
)
from contracts.topics import RESERVATION_EVENTS
from reservation.adapters.orders import lines_of
from reservation.adapters.tables import OrderRow, ReservationRow


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

    def _common(self, row: ReservationRow) -> dict[str, Any]:
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
        """Any fact built elsewhere (service_layer.disputes builds its own)."""
        self._write(fact)

    def confirmed(self, row: ReservationRow) -> None:
        """The reservation is paid and the slot is the user's."""
        assert row.paid_session_id is not None
        self._write(
            ReservationConfirmedV1(
                **self._common(row),
                amount_paid=row.paid_amount if row.paid_amount is not None else row.amount,
                currency=row.paid_currency or row.currency,
                reference=row.reference,
                session_id=row.paid_session_id,
                payment_intent_id=row.payment_intent_id,
                paid_at=row.paid_at,
            )
        )

    def payment_failed(self, row: ReservationRow, reason: str, session_id: str | None) -> None:
        """An attempt failed; the hold stays for a retry."""
        self._write(
            ReservationPaymentFailedV1(
                **self._common(row),
                reason=reason,
                session_id=session_id,
                hold_expires_at=row.hold_expires_at,
            )
        )

    def expired(self, row: ReservationRow) -> None:
        """The hold ran out unpaid; the slot is free."""
        self._write(ReservationExpiredV1(**self._common(row), session_id=row.current_session_id))

    def refunded(
        self,
        row: ReservationRow,
        *,
        amount: int,
        currency: str,
        refund_id: str,
        reason: str,
        session_id: str | None,
        payment_intent_id: str | None,
        partial: bool = False,
        refunded_total: int | None = None,
    ) -> None:
        """Money went back to the user (`partial`: part of it, the booking stands)."""
        self._write(
            ReservationRefundedV1(
                **self._common(row),
                amount_refunded=amount,
                currency=currency,
                refund_id=refund_id,
                reason=reason,
                session_id=session_id,
                payment_intent_id=payment_intent_id,
                partial=partial,
                refunded_total=refunded_total,
            )
        )

    def order_refunded(
        self, row: OrderRow, *, amount: int, refund_id: str, reason: str, partial: bool
    ) -> None:
        """Money for a beats order went back to the user."""
        self._write(
            OrderRefundedV1(
                event_id=uuid.uuid4(),
                occurred_at=datetime.now(UTC),
                correlation_id=self._correlation_id,
                user_id=row.user_id,
                user_email=row.user_email,
                order_id=row.session_id,
                session_id=row.session_id,
                payment_intent_id=row.payment_intent_id,
                amount_refunded=amount,
                currency=row.paid_currency or row.currency,
                refund_id=refund_id,
                reason=reason,
                partial=partial,
            )
        )

    def flagged(
        self,
        row: ReservationRow,
        *,
        reason: str,
        expected_amount: int,
        paid_amount: int,
        paid_currency: str,
        session_id: str,
    ) -> None:
        """The payment does not match our price: an operator must look."""
        self._write(
            ReservationFlaggedForReviewV1(
                **self._common(row),
                reason=reason,
                expected_amount=expected_amount,
                expected_currency=row.currency,
                paid_amount=paid_amount,
                paid_currency=paid_currency,
                session_id=session_id,
                payment_intent_id=row.payment_intent_id,
            )
        )

    def order_confirmed(self, row: OrderRow) -> None:
        """A beats order is paid: its id is the Checkout Session id (orders have no other)."""
        lines = lines_of(row)
        assert lines, "an order is confirmed only once its items are known"
        self._write(
            OrderConfirmedV1(
                event_id=uuid.uuid4(),
                occurred_at=datetime.now(UTC),
                correlation_id=self._correlation_id,
                user_id=row.user_id,
                user_email=row.user_email,
                order_id=row.session_id,
                session_id=row.session_id,
                payment_intent_id=row.payment_intent_id,
                items=[OrderItemV1(item_id=i.item_id, title=i.title, price=i.price) for i in lines],
                total=sum(i.price for i in lines),
                currency=row.currency,
            )
        )
