"""Queries of disputes and of the orders a payment intent paid; callers own the transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from reservation.adapters.tables import DisputeRow, OrderRow


async def orders_paid_by(session: AsyncSession, payment_intent_id: str) -> list[OrderRow]:
    """Row-locked orders paid by a PaymentIntent (reservations are locked before these)."""
    rows = await session.scalars(
        select(OrderRow)
        .where(col(OrderRow.payment_intent_id) == payment_intent_id)
        .order_by(col(OrderRow.session_id))
        .with_for_update()
    )
    return list(rows)


async def lock_or_create(session: AsyncSession, row: DisputeRow) -> tuple[DisputeRow, bool]:
    """The dispute's row, locked; created from `row` if new (then True)."""
    inserted = await session.execute(
        insert(DisputeRow)
        .values(
            dispute_id=row.dispute_id,
            charge_id=row.charge_id,
            payment_intent_id=row.payment_intent_id,
            amount=row.amount,
            currency=row.currency,
            reason=row.reason,
            stage=row.stage,
            stripe_status=row.stripe_status,
        )
        .on_conflict_do_nothing(index_elements=["dispute_id"])
        .returning(col(DisputeRow.dispute_id))
    )
    created = inserted.first() is not None
    locked = await session.scalars(
        select(DisputeRow)
        .where(col(DisputeRow.dispute_id) == row.dispute_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return locked.one(), created
