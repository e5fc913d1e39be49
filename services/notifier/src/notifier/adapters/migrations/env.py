"""Alembic environment of the notifier database: its own tables only, one upgrade at a time."""

from __future__ import annotations

from sqlmodel import SQLModel

from backbone.db import run_migrations_online
from notifier.adapters import tables

run_migrations_online(
    SQLModel.metadata, lock_name="notifier", tables={tables.NotificationRow.__tablename__}
)
