"""Alembic, driven from code: `python -m notifier migrate` and the worker's auto-migrate."""

from __future__ import annotations

from pathlib import Path

from alembic import command

from backbone import db
from backbone.settings import DatabaseSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def upgrade(database: DatabaseSettings, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run from several processes at once."""
    db.upgrade(MIGRATIONS, database.url.get_secret_value(), revision)


def revision(database: DatabaseSettings, message: str) -> None:
    """Autogenerate a new revision from the SQLModel tables (a developer command)."""
    config = db.alembic_config(MIGRATIONS, database.url.get_secret_value())
    command.revision(config, message=message, autogenerate=True)
