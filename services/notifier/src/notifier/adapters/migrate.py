"""Alembic, driven from code: `python -m notifier migrate` and the worker's auto-migrate."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from backbone.db.engine import sqlalchemy_url
from backbone.settings import DatabaseSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database: DatabaseSettings) -> Config:
    """An Alembic config on our migrations; the URL travels in attributes, not in the ini
    parser, so a password with `%` in it needs no escaping and never lands in a file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = sqlalchemy_url(database.url.get_secret_value())
    return config


def upgrade(database: DatabaseSettings, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run from several processes at once."""
    command.upgrade(alembic_config(database), revision)


def revision(database: DatabaseSettings, message: str) -> None:
    """Autogenerate a new revision from the SQLModel tables (a developer command)."""
    command.revision(alembic_config(database), message=message, autogenerate=True)
