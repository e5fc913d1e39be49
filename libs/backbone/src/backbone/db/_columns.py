"""Column helpers every service's tables share: time-zone aware timestamps, UTC now."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, text


def utc_now() -> datetime:
    """Now, in UTC (the default factory of created/updated columns)."""
    return datetime.now(UTC)


def timestamp(*, nullable: bool = False, default_now: bool = False) -> Column[datetime]:
    """A `timestamptz` column; `default_now` also lets the database fill it in."""
    return Column(
        DateTime(timezone=True),
        nullable=nullable,
        server_default=text("now()") if default_now else None,
    )
