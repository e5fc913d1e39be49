"""Reads and writes of the checkout tables inside a caller's transaction (it never commits).

Rows map to and from the domain's plain objects here: nothing outside the adapters sees a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import ColumnElement, Text, TextClause, bindparam, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from checkout.adapters.tables import BeatRow, CheckoutAttemptRow, CheckoutSessionRow, OutboxEntry
from checkout.domain.model import Beat
from checkout.domain.sessions import CheckoutAttempt, CheckoutSession


def _session(row: CheckoutSessionRow) -> CheckoutSession:
    return CheckoutSession(**row.model_dump())


def _attempt(row: CheckoutAttemptRow) -> CheckoutAttempt:
    return CheckoutAttempt(**row.model_dump())


class Repository:
    """The beats catalog, the recorded sessions and the stored attempts (CheckoutRepository)."""

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

    async def add_session(self, session: CheckoutSession) -> bool:
        """Record a session; False when it was recorded already (a replayed create)."""
        values = CheckoutSessionRow(**asdict(session)).model_dump()
        result = await self.session.execute(
            insert(CheckoutSessionRow)
            .values(values)
            .on_conflict_do_nothing(index_elements=["session_id"])
            .returning(col(CheckoutSessionRow.session_id))
        )
        return result.scalar_one_or_none() is not None

    async def get(self, session_id: str) -> CheckoutSession | None:
        """One recorded session."""
        row = await self.session.get(CheckoutSessionRow, session_id)
        return None if row is None else _session(row)

    async def for_items(self, user_id: str, fingerprint: str) -> list[CheckoutSession]:
        """The user's sessions for exactly these items, newest first."""
        rows = await self.session.scalars(
            select(CheckoutSessionRow)
            .where(col(CheckoutSessionRow.user_id) == user_id)
            .where(col(CheckoutSessionRow.fingerprint) == fingerprint)
            .order_by(col(CheckoutSessionRow.generation).desc())
        )
        return [_session(r) for r in rows]

    async def set_status(
        self, session_id: str, status: str, payment_status: str, now: datetime
    ) -> None:
        """Keep Stripe's latest word on a session."""
        await self.session.execute(
            update(CheckoutSessionRow)
            .where(col(CheckoutSessionRow.session_id) == session_id)
            .values(status=status, payment_status=payment_status, updated_at=now)
        )

    async def latest_attempt(self, user_id: str, fingerprint: str) -> CheckoutAttempt | None:
        """The newest Stripe create request for these items, if any."""
        result = await self.session.scalars(
            select(CheckoutAttemptRow)
            .where(col(CheckoutAttemptRow.user_id) == user_id)
            .where(col(CheckoutAttemptRow.fingerprint) == fingerprint)
            .order_by(
                col(CheckoutAttemptRow.generation).desc(),
                col(CheckoutAttemptRow.created_at).desc(),
            )
            .limit(1)
        )
        row = result.first()
        return None if row is None else _attempt(row)

    async def add_attempt(self, attempt: CheckoutAttempt) -> CheckoutAttempt:
        """Store an attempt; a concurrent twin's attempt under the same key wins and is returned."""
        await self.session.execute(
            insert(CheckoutAttemptRow)
            .values(CheckoutAttemptRow(**asdict(attempt)).model_dump())
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
        )
        stored = await self.session.get(
            CheckoutAttemptRow, attempt.idempotency_key, populate_existing=True
        )
        assert stored is not None
        return _attempt(stored)

    async def set_attempt_state(
        self, key: str, state: str, now: datetime, session_id: str | None = None
    ) -> None:
        """Record how an attempt ended (its session when Stripe made one)."""
        values: dict[str, object] = {"state": state, "updated_at": now}
        if session_id is not None:
            values["session_id"] = session_id
        await self.session.execute(
            update(CheckoutAttemptRow)
            .where(col(CheckoutAttemptRow.idempotency_key) == key)
            .values(values)
        )

    async def supersede(self, row: CheckoutSession, now: datetime) -> list[str]:
        """Mark the user's other open sessions for the same reservations (or the same items) as
        to be expired at Stripe; their ids."""
        same: list[ColumnElement[bool] | TextClause] = [
            col(CheckoutSessionRow.fingerprint) == row.fingerprint
        ]
        if row.reservation_ids:
            # JSONB ?| : the array shares at least one reservation id.
            same.append(
                text("checkout_sessions.reservation_ids ?| :ids").bindparams(
                    bindparam("ids", list(row.reservation_ids), type_=ARRAY(Text))
                )
            )
        result = await self.session.execute(
            update(CheckoutSessionRow)
            .where(col(CheckoutSessionRow.user_id) == row.user_id)
            .where(col(CheckoutSessionRow.status) == "open")
            .where(col(CheckoutSessionRow.session_id) != row.session_id)
            .where(or_(*same))
            .values(expire_pending=True, superseded_by=row.session_id, updated_at=now)
            .returning(col(CheckoutSessionRow.session_id))
        )
        return [str(v) for v in result.scalars()]

    async def fact_sent(self, session_id: str) -> bool:
        """Whether the relay published the session's CheckoutSessionCreatedV1 (keyed by its id)."""
        unsent = await self.session.scalar(
            select(func.count())
            .select_from(OutboxEntry)
            .where(col(OutboxEntry.key) == session_id.encode())
            .where(col(OutboxEntry.sent_at).is_(None))
        )
        return not unsent

    async def pending_expiries(self, limit: int, marked_before: datetime) -> list[str]:
        """Superseded sessions still to be expired at Stripe, marked before then, oldest first."""
        rows = await self.session.scalars(
            select(col(CheckoutSessionRow.session_id))
            .where(col(CheckoutSessionRow.expire_pending))
            .where(col(CheckoutSessionRow.updated_at) < marked_before)
            .order_by(col(CheckoutSessionRow.updated_at))
            .limit(limit)
        )
        return list(rows)

    async def expiry_done(
        self, session_id: str, status: str, payment_status: str, now: datetime
    ) -> None:
        """Stripe expired the superseded session (or it had ended already): nothing left to do."""
        await self.session.execute(
            update(CheckoutSessionRow)
            .where(col(CheckoutSessionRow.session_id) == session_id)
            .values(
                status=status,
                payment_status=payment_status,
                expire_pending=False,
                updated_at=now,
            )
        )
