"""The booking quotas' queries: a user's live holds and recent bookings, and the per-user lock
that makes counting and inserting one step; callers own the transaction."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


class QuotaStore:
    """A user's holds and bookings, counted from the reservations table itself."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_user(self, user_id: str) -> None:
        """Serialise this user's bookings until the transaction ends (an advisory lock)."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('booking-quota'), hashtext(:user_id))"),
            {"user_id": user_id},
        )

    async def live_hold_expiries(
        self, user_id: str, holding: Collection[str], now: datetime
    ) -> list[datetime]:
        """When each of the user's holds in these statuses that still lasts runs out, soonest
        first."""
        found = await self.session.execute(
            text(
                "SELECT hold_expires_at FROM reservations WHERE user_id = :user_id"
                " AND status = ANY(:holding) AND hold_expires_at > :now"
                " ORDER BY hold_expires_at"
            ),
            {"user_id": user_id, "holding": sorted(holding), "now": now},
        )
        return list(found.scalars())

    async def bookings_since(self, user_id: str, since: datetime) -> tuple[int, datetime | None]:
        """How many reservations the user made after `since`, and when the oldest of them was."""
        count, oldest = (
            await self.session.execute(
                text(
                    "SELECT count(*), min(created_at) FROM reservations"
                    " WHERE user_id = :user_id AND created_at > :since"
                ),
                {"user_id": user_id, "since": since},
            )
        ).one()
        return int(count), oldest
