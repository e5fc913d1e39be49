"""A pooled async SQLAlchemy engine on psycopg 3, and a session factory for units of work."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from backbone.db._arrays import use_fast_arrays
from backbone.settings import DatabaseSettings


def sqlalchemy_url(url: str) -> str:
    """A libpq URL (postgresql://...) as SQLAlchemy's psycopg 3 dialect spells it."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


def make_engine(settings: DatabaseSettings, *, application_name: str = "backbone") -> AsyncEngine:
    """The service's one engine: pooled, pre-pinged, statements bounded in time, array parameters
    written without a Python step per character (`backbone.db._arrays`)."""
    engine = create_async_engine(
        sqlalchemy_url(settings.url.get_secret_value()),
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout_s,
        pool_pre_ping=True,
        connect_args={
            "application_name": application_name,
            "options": f"-c statement_timeout={settings.statement_timeout_ms}",
        },
    )
    event.listen(engine.sync_engine, "connect", use_fast_arrays)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that do not expire objects on commit (handlers read them after committing)."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def database_probe(engine: AsyncEngine, timeout_s: float = 2.0) -> Callable[[], Awaitable[bool]]:
    """A readiness probe: the database answers a trivial query within `timeout_s`."""

    async def ready() -> bool:
        async with asyncio.timeout(timeout_s), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    return ready
