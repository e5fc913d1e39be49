"""Applying the Alembic migrations, and seeding the development catalog."""

from __future__ import annotations

from importlib.resources import files

from sqlalchemy import create_engine, pool
from sqlalchemy.dialects.postgresql import insert

from backbone.db import sqlalchemy_url, upgrade
from reservation.adapters.tables import StudioServiceRow
from reservation.domain.model import StudioService

# The development catalog: prices in minor units (cents).
DEV_CATALOG: tuple[StudioService, ...] = (
    StudioService("recording", "Recording", 120, 12000, "eur", "live-room"),
    StudioService("mixing", "Mixing", 120, 15000, "eur", "control-room"),
    StudioService("mastering", "Mastering", 60, 6000, "eur", "mastering-suite"),
)


def migrate(database_url: str, revision: str = "head") -> None:
    """Upgrade the database to `revision`."""
    upgrade(files("reservation") / "migrations", database_url, revision)


def seed_catalog(database_url: str, catalog: tuple[StudioService, ...] = DEV_CATALOG) -> None:
    """Insert the missing catalog services (rows already there stay as operators set them)."""
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    rows = [
        {
            "id": s.id,
            "name": s.name,
            "duration_minutes": s.duration_minutes,
            "price": s.price,
            "currency": s.currency,
            "resource": s.resource,
            "active": True,
        }
        for s in catalog
    ]
    with engine.begin() as conn:
        conn.execute(insert(StudioServiceRow).values(rows).on_conflict_do_nothing())
    engine.dispose()
