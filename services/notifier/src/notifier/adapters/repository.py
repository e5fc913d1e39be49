"""The notification rows on PostgreSQL, claimed and settled many per statement; the unit of work
(`notifier.adapters.unit_of_work`) owns each transaction.

Each statement takes arrays (one parameter per column, whatever the count), so it is the same
statement for a batch of one or of a hundred, and PostgreSQL prepares it once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.domain.model import Claim, RenderedEmail
from notifier.service_layer.ports import NotificationRepository

ERROR_LIMIT = 2000

# Sorted by event_id: two workers claiming overlapping batches lock rows in the same order.
_INSERT = text(
    "INSERT INTO notifications"
    " (event_id, event_type, template, recipient, subject, message_id, status, attempts)"
    " SELECT event_id, event_type, template, recipient, subject, message_id, 'sending', 1"
    " FROM unnest(CAST(:event_ids AS varchar[]), CAST(:event_types AS varchar[]),"
    " CAST(:templates AS varchar[]), CAST(:recipients AS varchar[]), CAST(:subjects AS text[]),"
    " CAST(:message_ids AS varchar[]))"
    " AS claimed(event_id, event_type, template, recipient, subject, message_id)"
    " ORDER BY event_id"
    " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
# Run after _INSERT, in its own snapshot: it sees rows another worker committed meanwhile (an
# insert that conflicted waited for theirs), and it waits for a row another claim has locked.
_RECLAIM = text(
    "UPDATE notifications SET attempts = attempts + 1, updated_at = now()"
    " WHERE event_id = ANY(CAST(:event_ids AS varchar[])) AND status = 'sending'"
    " RETURNING event_id"
)
_MARK_SENT = text(
    "UPDATE notifications SET status = 'sent', last_error = NULL, sent_at = now(),"
    " updated_at = now() WHERE event_id = ANY(CAST(:event_ids AS varchar[]))"
)
_MARK_FAILED = text(
    "UPDATE notifications AS n SET status = 'failed', last_error = f.reason, updated_at = now()"
    " FROM unnest(CAST(:event_ids AS varchar[]), CAST(:reasons AS text[])) AS f(event_id, reason)"
    " WHERE n.event_id = f.event_id"
)
_RECORD_ERROR = text(
    "UPDATE notifications SET last_error = :reason, updated_at = now()"
    " WHERE event_id = :event_id AND status = 'sending'"
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
        inserted = await self._session.execute(
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
        claims = dict.fromkeys((str(e) for e in inserted.scalars()), Claim.NEW)
        found = [event_id for event_id, _ in rows if event_id not in claims]
        if found:
            resent = await self._session.execute(_RECLAIM, {"event_ids": found})
            claims |= dict.fromkeys((str(e) for e in resent.scalars()), Claim.RESEND)
            # Only settled rows past the retention are deleted (backbone.db.Pruner): one found
            # here that is neither new nor `sending` is `sent` or `failed`.
            claims |= {event_id: Claim.DONE for event_id in found if event_id not in claims}
        return claims

    async def mark_sent(self, event_ids: Sequence[str]) -> None:
        """The server accepted these messages: never send them again."""
        if event_ids:
            await self._session.execute(_MARK_SENT, {"event_ids": list(event_ids)})

    async def mark_failed(self, reasons: Mapping[str, str]) -> None:
        """Refused for good (event_id -> reason): keep the reason, never retry on redelivery."""
        if reasons:
            await self._session.execute(
                _MARK_FAILED,
                {
                    "event_ids": list(reasons),
                    "reasons": [reason[:ERROR_LIMIT] for reason in reasons.values()],
                },
            )

    async def record_error(self, event_id: str, reason: str) -> None:
        """A transient failure: the row stays `sending` (a retry or replay sends it again)."""
        await self._session.execute(
            _RECORD_ERROR, {"event_id": event_id, "reason": reason[:ERROR_LIMIT]}
        )
