"""Alembic environment of the checkout database (DATABASE_URL, or the config's URL)."""

from __future__ import annotations

from sqlmodel import SQLModel

from backbone.db import run_migrations_online
from checkout.adapters import tables  # noqa: F401 - registers the tables on the metadata

run_migrations_online(SQLModel.metadata, lock_name="checkout")
