"""Checkout's record of each session and the payments parked until it arrives; no commit here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.db import driver_fetch_all

Created = tuple[int | None, str | None, list[str]]

# Checkout's records of a batch's paid sessions, one array parameter, on the session's psycopg
# connection (backbone.db's driver statements: the batch path).
_PREFETCH = (
    "SELECT session_id, amount_total, currency, reservation_ids"
    " FROM checkout_session_facts WHERE session_id = ANY(CAST(%(ids)s AS varchar[]))"
)


class CheckoutRecords:
    """`checkout_session_facts` and `unverified_payments` within one transaction.

    What `prefetch` read and what `remember` wrote are kept for the transaction, so a batch
    asks once for all its sessions instead of once per payment.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._known: dict[str, Created | None] = {}

    async def remember(
        self,
        session_id: str,
        amount_total: int | None,
        currency: str | None,
        reservation_ids: list[str],
    ) -> None:
        """Keep what checkout created for a session (the first word stays)."""
        await self.session.execute(
            text(
                "INSERT INTO checkout_session_facts (session_id, amount_total, currency,"
                " reservation_ids) VALUES (:s, :a, :c, CAST(:r AS jsonb))"
                " ON CONFLICT (session_id) DO NOTHING"
            ),
            {"s": session_id, "a": amount_total, "c": currency, "r": json.dumps(reservation_ids)},
        )
        if self._known.get(session_id) is None:
            # Not known to have a record before: the row is now ours or a first word another
            # transaction committed; `created` reads whichever it is.
            self._known.pop(session_id, None)

    async def prefetch(self, session_ids: Sequence[str]) -> None:
        """Read checkout's records of these sessions in one query, for `created`."""
        wanted = sorted(set(session_ids) - self._known.keys())
        if not wanted:
            return
        found = await driver_fetch_all(self.session, _PREFETCH, {"ids": wanted})
        self._known.update(dict.fromkeys(wanted))
        for session_id, amount_total, currency, reservation_ids in found:
            self._known[session_id] = (amount_total, currency, list(reservation_ids))

    async def created(self, session_id: str) -> Created | None:
        """Amount, currency and reservations checkout created the session with, if known."""
        await self.prefetch([session_id])
        return self._known[session_id]

    async def park(self, event_id: str, session_id: str, payload: str, now: datetime) -> None:
        """Park a payment (its JSON) until checkout's record of its session arrives."""
        await self.session.execute(
            text(
                "INSERT INTO unverified_payments (event_id, session_id, signal, parked_at)"
                " VALUES (:e, :s, CAST(:p AS jsonb), :t) ON CONFLICT (event_id) DO NOTHING"
            ),
            {"e": event_id, "s": session_id, "p": payload, "t": now},
        )

    async def unpark(self, column: str, value: str) -> list[Any]:
        """Take parked payments out by event or session id (one transaction wins)."""
        assert column in ("event_id", "session_id")
        rows = await self.session.execute(
            text(f"DELETE FROM unverified_payments WHERE {column} = :v RETURNING signal"),  # noqa: S608
            {"v": value},
        )
        return [row.signal for row in rows]

    async def parked_before(self, cutoff: datetime, limit: int) -> list[Any]:
        """Payments parked before `cutoff`, oldest first."""
        rows = await self.session.execute(
            text(
                "SELECT signal FROM unverified_payments WHERE parked_at < :cutoff"
                " ORDER BY parked_at LIMIT :n"
            ),
            {"cutoff": cutoff, "n": limit},
        )
        return [row.signal for row in rows]
