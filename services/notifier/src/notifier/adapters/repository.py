"""Claiming and settling notification rows; the caller owns each transaction."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from notifier.adapters.tables import NotificationRow
from notifier.domain.model import Claim, RenderedEmail, Status

ERROR_LIMIT = 2000


async def claim(session: AsyncSession, rendered: RenderedEmail) -> Claim:
    """Claim the row of `rendered`'s fact: NEW (inserted as sending), RESEND (found sending), or
    DONE (found sent or failed). Counts the attempt. The row is locked until the transaction
    ends, so two workers claiming at once serialise on it."""
    email = rendered.email
    inserted = await session.execute(
        insert(NotificationRow)
        .values(
            event_id=str(email.event_id),
            event_type=email.event_type,
            template=email.template,
            recipient=email.recipient,
            subject=email.subject,
            message_id=rendered.message_id,
            status=Status.SENDING.value,
            attempts=1,
        )
        .on_conflict_do_nothing()
        .returning(col(NotificationRow.event_id))
    )
    if inserted.first() is not None:
        return Claim.NEW
    status = (
        await session.execute(
            select(col(NotificationRow.status))
            .where(col(NotificationRow.event_id) == str(email.event_id))
            .with_for_update()
        )
    ).scalar_one()
    if status != Status.SENDING.value:
        return Claim.DONE
    await session.execute(
        update(NotificationRow)
        .where(col(NotificationRow.event_id) == str(email.event_id))
        .values(attempts=col(NotificationRow.attempts) + 1, updated_at=func.now())
    )
    return Claim.RESEND


async def mark_sent(session: AsyncSession, event_id: str) -> None:
    """The server accepted the message: never send it again."""
    await session.execute(
        update(NotificationRow)
        .where(col(NotificationRow.event_id) == event_id)
        .values(
            status=Status.SENT.value, last_error=None, sent_at=func.now(), updated_at=func.now()
        )
    )


async def mark_failed(session: AsyncSession, event_id: str, reason: str) -> None:
    """Refused for good: keep the reason, never retry on redelivery."""
    await session.execute(
        update(NotificationRow)
        .where(col(NotificationRow.event_id) == event_id)
        .values(status=Status.FAILED.value, last_error=reason[:ERROR_LIMIT], updated_at=func.now())
    )


async def record_error(session: AsyncSession, event_id: str, reason: str) -> None:
    """A transient failure: the row stays `sending` (a retry or replay sends it again)."""
    await session.execute(
        update(NotificationRow)
        .where(col(NotificationRow.event_id) == event_id)
        .where(col(NotificationRow.status) == Status.SENDING.value)
        .values(last_error=reason[:ERROR_LIMIT], updated_at=func.now())
    )
