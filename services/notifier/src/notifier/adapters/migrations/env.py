"""Alembic environment: the notifier's SQLModel tables, one advisory lock per upgrade."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text
from sqlmodel import SQLModel

from notifier.adapters import tables

# Held for the migration transaction: two workers starting with auto-migrate take turns.
_LOCK_KEY = 0x6E6F7469  # "noti"
_OURS = frozenset({tables.NotificationRow.__tablename__})


def _include_name(name: str | None, type_: str, _parent: object) -> bool:
    # SQLModel.metadata is process-wide: autogenerate must see only the notifier's own tables.
    return type_ != "table" or name in _OURS


def run_migrations_online() -> None:
    """Run the migrations on a connection of their own."""
    url = context.config.attributes.get("url") or context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(str(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=SQLModel.metadata,
            include_name=_include_name,
            compare_type=True,
        )
        with context.begin_transaction():
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run_migrations_online()
