"""Alembic's online run, shared by every service's migrations/env.py."""

from __future__ import annotations

import zlib
from collections.abc import Collection
from importlib.resources.abc import Traversable
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, pool

from backbone.db._engine import sqlalchemy_url


def run_migrations_online(
    target_metadata: MetaData, *, lock_name: str, tables: Collection[str] | None = None
) -> None:
    """Apply pending revisions over one synchronous psycopg connection, serialised by a lock.

    - Several processes of one service (API replicas, a worker) may migrate at start-up at
      once: a transaction-scoped advisory lock named after the service makes them take turns.
    - `tables` limits autogenerate to the service's own tables: SQLModel's metadata is
      process-wide and may hold tables other packages registered.
    - The URL comes from the config's `url` attribute (set by code) or `sqlalchemy.url`.
    """
    if context.is_offline_mode():
        raise SystemExit(
            "offline (SQL script) migrations are not supported; run against a database"
        )
    config = context.config
    url = sqlalchemy_url(
        str(config.attributes.get("url") or config.get_main_option("sqlalchemy.url"))
    )
    engine = create_engine(url, poolclass=pool.NullPool)

    def include_name(name: str | None, type_: str, _parent: object) -> bool:
        return tables is None or type_ != "table" or name in tables

    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                include_name=include_name,
                compare_type=True,
            )
            with context.begin_transaction():
                key = zlib.crc32(f"migrations:{lock_name}".encode())
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({key})")
                context.run_migrations()
    finally:
        engine.dispose()


def alembic_config(script_location: Path | Traversable, database_url: str) -> Config:
    """An Alembic config on a package's migrations and a database.

    The URL travels in the config's attributes, not the ini parser: a password with `%` in it
    needs no escaping and never lands in a file.
    """
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["url"] = sqlalchemy_url(database_url)
    return config


def upgrade(script_location: Path | Traversable, database_url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe from several processes at once (see the lock)."""
    command.upgrade(alembic_config(script_location, database_url), revision)
