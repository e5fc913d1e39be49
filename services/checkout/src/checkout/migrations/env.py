"""Alembic environment: a synchronous psycopg connection to the configured checkout database."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

from backbone.db.engine import sqlalchemy_url
from checkout.adapters import tables  # noqa: F401 - registers the tables on the metadata

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    """Apply migrations over one connection, each in its own transaction."""
    url = sqlalchemy_url(config.get_main_option("sqlalchemy.url") or "")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            # Serialise concurrent start-ups (several API replicas migrating at once).
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(4815162342)")
            context.run_migrations()
    engine.dispose()


run_migrations_online()
