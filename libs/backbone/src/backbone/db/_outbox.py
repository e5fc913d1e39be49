"""The outbox: facts written in the same transaction as the state change, relayed to Kafka after."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, LargeBinary, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from backbone.db._columns import timestamp, utc_now
from backbone.db._driver import driver_execute


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
    created_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))
    sent_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))


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


@dataclass(frozen=True)
class OutboxRecord:
    """A record to add to the outbox (`add_all`)."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: Sequence[tuple[str, str]] = field(default_factory=tuple)


# One statement for any number of records (one array per column), so it is prepared once;
# WITH ORDINALITY keeps the ids, hence the relay's publishing order, in the order given. On the
# session's psycopg connection (backbone.db._driver: a consumer's batch path).
_ADD_ALL = (
    "INSERT INTO outbox (topic, key, value, headers)"
    " SELECT topic, key, value, CAST(headers AS jsonb)"
    " FROM unnest(CAST(%(topics)s AS varchar[]), CAST(%(keys)s AS bytea[]),"
    " CAST(%(values)s AS bytea[]), CAST(%(headers)s AS text[]))"
    " WITH ORDINALITY AS r(topic, key, value, headers, n)"
    " ORDER BY n"
)


async def add_all(session: AsyncSession, records: Sequence[OutboxRecord]) -> None:
    """Insert `records` into the outbox in the caller's transaction, in this order, at once.

    The cheap path for many records (one statement, no ORM objects); ids, hence the relay's
    publishing order, follow the order of `records`.
    """
    if not records:
        return
    await driver_execute(
        session,
        _ADD_ALL,
        {
            "topics": [r.topic for r in records],
            "keys": [r.key for r in records],
            "values": [r.value for r in records],
            "headers": [json.dumps([[k, v] for k, v in r.headers]) for r in records],
        },
    )
