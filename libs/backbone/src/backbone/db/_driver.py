"""Statements of the batch paths on the session's own psycopg connection, in its transaction.

A statement through `AsyncSession.execute` pays for SQLAlchemy's layers on every call (the
greenlet hop, the ORM execution context, the compiled-cache lookup, the result wrapper): about
230 µs of CPU for a short locking select here, against 120 µs for the same statement on the
psycopg connection underneath (BENCHMARKS.md, section 2026-12-06 19:27-20:38; ADR 0012). The
consumers' batch paths run about ten statements a transaction, so they use these instead: plain
SQL with psycopg's `%(name)s` placeholders, run on the connection the session's transaction
holds (the same transaction, so nothing else changes: locks, snapshot, commit and rollback stay
the unit of work's). Everything else keeps SQLAlchemy.

Errors are psycopg's own (`psycopg.errors.*`, sqlstate intact), which
`backbone.kafka.classify` tells apart as it does the ones SQLAlchemy wraps. A connection lost
mid-statement is found dead by the pool's ping at the next checkout, as after any failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import AsyncConnection
from sqlalchemy.ext.asyncio import AsyncConnection as SAConnection
from sqlalchemy.ext.asyncio import AsyncSession

_KEY = "backbone.db.driver"

Params = Mapping[str, Any]


async def driver_connection(session: AsyncSession) -> AsyncConnection[Any]:
    """The psycopg connection of the session's transaction (begun if it was not), looked up
    once per transaction."""
    transaction = session.sync_session.get_transaction()
    cached = session.info.get(_KEY)
    if cached is not None and transaction is not None and cached[0] is transaction:
        connection: AsyncConnection[Any] = cached[1]
        return connection
    connection = await psycopg_connection(await session.connection())
    session.info[_KEY] = (session.sync_session.get_transaction(), connection)
    return connection


async def psycopg_connection(connection: SAConnection) -> AsyncConnection[Any]:
    """The psycopg connection under a checked-out SQLAlchemy connection."""
    raw = await connection.get_raw_connection()
    driver: AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
    return driver


async def driver_fetch_all(
    session: AsyncSession, query: str, params: Params
) -> list[tuple[Any, ...]]:
    """The rows of `query` (tuples, in the select list's order)."""
    connection = await driver_connection(session)
    async with connection.cursor() as cursor:
        await cursor.execute(query, params)
        return await cursor.fetchall()


async def driver_execute(session: AsyncSession, query: str, params: Params) -> None:
    """Run `query` for its effect."""
    connection = await driver_connection(session)
    async with connection.cursor() as cursor:
        await cursor.execute(query, params)


async def driver_execute_many(session: AsyncSession, query: str, params: Sequence[Params]) -> None:
    """Run `query` once per parameter set, pipelined (psycopg's `executemany`)."""
    connection = await driver_connection(session)
    async with connection.cursor() as cursor:
        await cursor.executemany(query, params)
