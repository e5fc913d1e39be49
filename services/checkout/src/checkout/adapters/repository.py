"""Reads and writes of the checkout tables inside a caller's transaction (it never commits)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from checkout.adapters.tables import BeatRow, CheckoutSessionRow
from checkout.domain.model import Beat


class Repository:
    """The beats catalog and the recorded sessions."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def beats(self, ids: Sequence[str]) -> dict[str, Beat]:
        """The active beats among `ids`, by id."""
        rows = await self.session.scalars(
            select(BeatRow).where(col(BeatRow.id).in_(list(ids))).where(col(BeatRow.active))
        )
        return {r.id: Beat(r.id, r.title, r.price, r.currency) for r in rows}

    async def active_beats(self) -> list[Beat]:
        """Every beat on sale, cheapest first (the page's catalog)."""
        rows = await self.session.scalars(
            select(BeatRow)
            .where(col(BeatRow.active))
            .order_by(col(BeatRow.price), col(BeatRow.title))
        )
        return [Beat(r.id, r.title, r.price, r.currency) for r in rows]

    async def add_session(self, row: CheckoutSessionRow) -> bool:
        """Record a session; False when it was recorded already (a replayed create)."""
        values = row.model_dump()
        result = await self.session.execute(
            insert(CheckoutSessionRow)
            .values(values)
            .on_conflict_do_nothing(index_elements=["session_id"])
            .returning(col(CheckoutSessionRow.session_id))
        )
        return result.scalar_one_or_none() is not None

    async def get(self, session_id: str) -> CheckoutSessionRow | None:
        """One recorded session."""
        return await self.session.get(CheckoutSessionRow, session_id)

    async def for_items(self, user_id: str, fingerprint: str) -> list[CheckoutSessionRow]:
        """The user's sessions for exactly these items, newest first."""
        rows = await self.session.scalars(
            select(CheckoutSessionRow)
            .where(col(CheckoutSessionRow.user_id) == user_id)
            .where(col(CheckoutSessionRow.fingerprint) == fingerprint)
            .order_by(col(CheckoutSessionRow.generation).desc())
        )
        return list(rows)

    async def set_status(
        self, session_id: str, status: str, payment_status: str, now: datetime
    ) -> None:
        """Keep Stripe's latest word on a session."""
        await self.session.execute(
            update(CheckoutSessionRow)
            .where(col(CheckoutSessionRow.session_id) == session_id)
            .values(status=status, payment_status=payment_status, updated_at=now)
        )
