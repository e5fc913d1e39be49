"""The outbox: facts written in the same transaction as the state change, relayed to Kafka after."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, LargeBinary, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel


class OutboxEntry(SQLModel, table=True):
    """One record waiting for, or past, its trip to Kafka."""

    __tablename__ = "outbox"
    __table_args__ = (Index("outbox_unsent", "id", postgresql_where=text("sent_at IS NULL")),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    topic: str = Field(sa_column=Column(String(249), nullable=False))
    key: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: list[list[str]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )
    created_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=text("now()")),
    )
    sent_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


def enqueue(
    session: AsyncSession,
    topic: str,
    value: bytes,
    *,
    key: bytes | None = None,
    headers: Sequence[tuple[str, str]] = (),
) -> OutboxEntry:
    """Add a record to the outbox in the caller's transaction (committed with it, or not at all)."""
    entry = OutboxEntry(topic=topic, key=key, value=value, headers=[[k, v] for k, v in headers])
    session.add(entry)
    return entry
