"""The notification rows on PostgreSQL, claimed and settled many per statement: a claim in the
unit of work's transaction (`notifier.adapters.unit_of_work`), a settle as one statement on its
own (`SqlSettlements`).

Each statement takes arrays (one parameter per column, whatever the count), so it is the same
statement for a batch of one or of a hundred, and PostgreSQL prepares it once. They run as plain
SQL on the psycopg connection underneath (backbone.db's driver statements: about half the CPU of
a statement through SQLAlchemy), in the unit of work's transaction or on the settles' own
connection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from backbone.db import driver_fetch_all, psycopg_connection
from notifier.domain.model import Claim, RenderedEmail
from notifier.service_layer.ports import NotificationRepository, Settlements

ERROR_LIMIT = 2000

# Sorted by event_id: two workers claiming overlapping batches lock rows in the same order.
_INSERT = (
    "INSERT INTO notifications"
    " (event_id, event_type, template, recipient, subject, message_id, status, attempts)"
    " SELECT event_id, event_type, template, recipient, subject, message_id, 'sending', 1"
    " FROM unnest(CAST(%(event_ids)s AS varchar[]), CAST(%(event_types)s AS varchar[]),"
    " CAST(%(templates)s AS varchar[]), CAST(%(recipients)s AS varchar[]),"
    " CAST(%(subjects)s AS text[]), CAST(%(message_ids)s AS varchar[]))"
    " AS claimed(event_id, event_type, template, recipient, subject, message_id)"
    " ORDER BY event_id"
    " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
# Run after _INSERT, in its own snapshot: it sees rows another worker committed meanwhile (an
# insert that conflicted waited for theirs), and it waits for a row another claim has locked.
_RECLAIM = (
    "UPDATE notifications SET attempts = attempts + 1, updated_at = now()"
    " WHERE event_id = ANY(CAST(%(event_ids)s AS varchar[])) AND status = 'sending'"
    " RETURNING event_id"
)
# A batch's outcomes in one statement: each data-modifying CTE updates its own rows (an e-mail is
# sent, refused or errored, never two of these in one settle), all in one snapshot, atomically.
_SETTLE = (
    "WITH sent AS ("
    " UPDATE notifications SET status = 'sent', last_error = NULL, sent_at = now(),"
    " updated_at = now() WHERE event_id = ANY(CAST(%(sent)s AS varchar[]))"
    "), failed AS ("
    " UPDATE notifications AS n SET status = 'failed', last_error = f.reason, updated_at = now()"
    " FROM unnest(CAST(%(failed_ids)s AS varchar[]), CAST(%(failed_reasons)s AS text[]))"
    " AS f(event_id, reason) WHERE n.event_id = f.event_id"
    "), errors AS ("
    " UPDATE notifications AS n SET last_error = e.reason, updated_at = now()"
    " FROM unnest(CAST(%(error_ids)s AS varchar[]), CAST(%(error_reasons)s AS text[]))"
    " AS e(event_id, reason) WHERE n.event_id = e.event_id AND n.status = 'sending'"
    ") SELECT 1"
)


class SqlNotificationRepository(NotificationRepository):
    """The `notifications` table through one session (the unit of work's)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim_many(self, emails: Sequence[RenderedEmail]) -> dict[str, Claim]:
        """Claim the row of each e-mail's fact (one e-mail per fact): NEW (inserted as
        `sending`), RESEND (found `sending`: a previous attempt failed, or a worker died after
        sending), or DONE (found `sent` or `failed`). A NEW or RESEND claim counts an attempt.
        Keyed by event_id."""
        if not emails:
            return {}
        rows = [(str(r.email.event_id), r) for r in emails]
        inserted = await driver_fetch_all(
            self._session,
            _INSERT,
            {
                "event_ids": [event_id for event_id, _ in rows],
                "event_types": [r.email.event_type for _, r in rows],
                "templates": [r.email.template for _, r in rows],
                "recipients": [r.email.recipient for _, r in rows],
                "subjects": [r.email.subject for _, r in rows],
                "message_ids": [r.message_id for _, r in rows],
            },
        )
        claims = dict.fromkeys((str(e) for (e,) in inserted), Claim.NEW)
        found = [event_id for event_id, _ in rows if event_id not in claims]
        if found:
            resent = await driver_fetch_all(self._session, _RECLAIM, {"event_ids": found})
            claims |= dict.fromkeys((str(e) for (e,) in resent), Claim.RESEND)
            # Only settled rows past the retention are deleted (backbone.db.Pruner): one found
            # here that is neither new nor `sending` is `sent` or `failed`.
            claims |= {event_id: Claim.DONE for event_id in found if event_id not in claims}
        return claims


class SqlSettlements(Settlements):
    """Settles on one connection held for the block, in autocommit: each settle is a single
    statement, so it is atomic on its own, and it costs one round trip instead of four (a pool
    checkout's ping, BEGIN, the statement, COMMIT). The connection is taken at the first
    settle, dropped after a failed one (the next settle takes a new one), and given back on
    `aclose()`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # The connection held for the block, and the psycopg connection inside it.
        self._held: tuple[AsyncConnection, psycopg.AsyncConnection[Any]] | None = None

    async def settle(
        self,
        sent: Sequence[str],
        failed: Mapping[str, str],
        errors: Sequence[tuple[str, str]],
    ) -> None:
        if not (sent or failed or errors):
            return
        if self._held is None:
            connection = await self._engine.connect()
            try:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                self._held = (connection, await psycopg_connection(connection))
            except BaseException:
                await connection.close()
                raise
        connection, driver = self._held
        try:
            await driver.execute(
                _SETTLE,
                {
                    "sent": list(sent),
                    "failed_ids": list(failed),
                    "failed_reasons": [reason[:ERROR_LIMIT] for reason in failed.values()],
                    "error_ids": [event_id for event_id, _ in errors],
                    "error_reasons": [reason[:ERROR_LIMIT] for _, reason in errors],
                },
            )
        except BaseException:
            # Failed or cut short mid-statement: the connection's state is unknown, drop it.
            self._held = None
            await connection.invalidate()
            raise

    async def aclose(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            await held[0].close()
