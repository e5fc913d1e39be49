"""Applying the Alembic migrations, and seeding the development beats catalog."""

from __future__ import annotations

from importlib.resources import files

from sqlalchemy import create_engine, pool
from sqlalchemy.dialects.postgresql import insert

from backbone.db import sqlalchemy_url, upgrade
from checkout.adapters.tables import BeatRow
from checkout.domain.model import Beat

# The development catalog: prices in minor units (cents), the studio's currency.
DEV_BEATS: tuple[Beat, ...] = (
    Beat("beat_midnight_tape", "Midnight Tape", 2999, "eur"),
    Beat("beat_neon_drift", "Neon Drift", 3499, "eur"),
    Beat("beat_low_tide", "Low Tide", 1999, "eur"),
    Beat("beat_gold_rush", "Gold Rush", 4999, "eur"),
)


def migrate(database_url: str, revision: str = "head") -> None:
    """Upgrade the database to `revision`."""
    upgrade(files("checkout") / "migrations", database_url, revision)


def seed_beats(database_url: str, beats: tuple[Beat, ...] = DEV_BEATS) -> None:
    """Insert the missing beats (rows already there stay as operators set them)."""
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    rows = [
        {"id": b.id, "title": b.title, "price": b.price, "currency": b.currency, "active": True}
        for b in beats
    ]
    with engine.begin() as conn:
        conn.execute(insert(BeatRow).values(rows).on_conflict_do_nothing())
    engine.dispose()
