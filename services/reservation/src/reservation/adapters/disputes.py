"""Disputes of the database: one row per Stripe dispute and how far it got; no commit in here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from reservation.adapters.tables import DisputeRow
from reservation.domain.disputes import DisputeStage


class DisputeRepository:
    """The disputes of one transaction (locked after the reservations and orders they pay)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_or_create(
        self,
        *,
        dispute_id: str,
        charge_id: str | None,
        payment_intent_id: str | None,
        amount: int,
        currency: str,
        reason: str | None,
        stage: DisputeStage,
        stripe_status: str,
    ) -> DisputeStage | None:
        """Lock the dispute's row, creating it if new: the stage known before, None if new."""
        inserted = await self.session.execute(
            insert(DisputeRow)
            .values(
                dispute_id=dispute_id,
                charge_id=charge_id,
                payment_intent_id=payment_intent_id,
                amount=amount,
                currency=currency.lower(),
                reason=reason,
                stage=stage.value,
                stripe_status=stripe_status,
            )
            .on_conflict_do_nothing(index_elements=["dispute_id"])
            .returning(col(DisputeRow.dispute_id))
        )
        created = inserted.first() is not None
        known = await self.session.scalar(
            select(col(DisputeRow.stage))
            .where(col(DisputeRow.dispute_id) == dispute_id)
            .with_for_update()
        )
        return None if created else DisputeStage(str(known))

    async def move(
        self, dispute_id: str, stage: DisputeStage, stripe_status: str, now: datetime
    ) -> None:
        """Record the stage the dispute reached (the caller checked that it advances)."""
        await self.session.execute(
            update(DisputeRow)
            .where(col(DisputeRow.dispute_id) == dispute_id)
            .values(stage=stage.value, stripe_status=stripe_status, updated_at=now)
        )
