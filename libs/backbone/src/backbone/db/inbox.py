"""The inbox: event ids a consumer has processed, claimed in the same transaction as its effect."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from backbone.db.columns import timestamp, utc_now


class InboxEntry(SQLModel, table=True):
    """One processed event, unique per consumer."""

    __tablename__ = "inbox"

    consumer: str = Field(sa_column=Column(String(200), primary_key=True))
    event_id: str = Field(sa_column=Column(String(200), primary_key=True))
    processed_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))


async def claim(session: AsyncSession, consumer: str, event_id: str) -> bool:
    """Record `event_id` as processed by `consumer`; False if it already was (a duplicate).

    Call inside the transaction that applies the event: if that transaction rolls back, the
    claim goes with it and a redelivery is processed again.
    """
    statement = (
        insert(InboxEntry)
        .values(consumer=consumer, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(col(InboxEntry.event_id))
    )
    result = await session.execute(statement)
    return result.first() is not None
