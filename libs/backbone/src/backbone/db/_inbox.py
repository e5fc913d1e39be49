"""The inbox: event ids a consumer has processed, claimed in the same transaction as its effect."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Column, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from backbone.db._columns import timestamp, utc_now
from backbone.db._driver import driver_fetch_all


class InboxEntry(SQLModel, table=True):
    """One processed event, unique per consumer."""

    __tablename__ = "inbox"

    consumer: str = Field(sa_column=Column(String(200), primary_key=True))
    event_id: str = Field(sa_column=Column(String(200), primary_key=True))
    processed_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))


# One statement for any number of ids (one array parameter), so it is prepared once; on the
# session's psycopg connection (backbone.db._driver: a consumer's batch path).
_CLAIM_MANY = (
    "INSERT INTO inbox (consumer, event_id)"
    " SELECT %(consumer)s, unnest(CAST(%(event_ids)s AS varchar[]))"
    " ON CONFLICT DO NOTHING RETURNING event_id"
)


async def claim_many(session: AsyncSession, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """Record each of `event_ids` as processed by `consumer`; the ids that were not yet.

    The ids left out are duplicates (processed before). An id twice in `event_ids` is returned
    once: the caller treats its first occurrence as the claim and the next as a duplicate.
    Call inside the transaction that applies the events: if that transaction rolls back, the
    claims go with it and a redelivery is processed again.
    """
    if not event_ids:
        return set()
    # Sorted: two transactions claiming overlapping ids lock them in one order (no deadlock).
    rows = await driver_fetch_all(
        session, _CLAIM_MANY, {"consumer": consumer, "event_ids": sorted(set(event_ids))}
    )
    return {str(event_id) for (event_id,) in rows}


async def claim(session: AsyncSession, consumer: str, event_id: str) -> bool:
    """Record `event_id` as processed by `consumer`; False if it already was (a duplicate).

    Call inside the transaction that applies the event: if that transaction rolls back, the
    claim goes with it and a redelivery is processed again.
    """
    return event_id in await claim_many(session, consumer, [event_id])
