"""Migrations and the database's own guarantees: the catalog seed and the no-overlap constraint."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from reservation.adapters.migrations import migrate, seed_catalog

pytestmark = pytest.mark.integration


def test_migrations_are_idempotent_and_seed_the_catalog(reservation_db: str) -> None:
    migrate(reservation_db)
    seed_catalog(reservation_db)
    with psycopg.connect(reservation_db) as conn:
        rows = conn.execute(
            "SELECT id, duration_minutes, price, currency FROM studio_services ORDER BY id"
        ).fetchall()
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        }
    assert [r[0] for r in rows] == ["mastering", "mixing", "recording"]
    assert all(r[1] > 0 and r[2] > 0 and r[3] == "eur" for r in rows)
    assert {"reservations", "payment_attempts", "orders", "inbox", "outbox"} <= tables
    assert "alembic_version" in tables


def _insert(conn: psycopg.Connection[Any], rid: str, start: datetime, status: str) -> None:
    conn.execute(
        "INSERT INTO reservations (id, reference, user_id, user_email, service_id, service_name,"
        " resource, starts_at, ends_at, amount, currency, status, hold_expires_at)"
        " VALUES (%s, %s, 'u', 'u@example.com', 'mixing', 'Mixing', 'control-room', %s, %s,"
        " 15000, 'eur', %s, now())",
        (rid, f"RSV-{rid}", start, start + timedelta(hours=2), status),
    )


def test_exclusion_constraint_only_binds_live_reservations(reservation_db: str) -> None:
    start = datetime(2031, 5, 1, 10, tzinfo=UTC)
    with psycopg.connect(reservation_db, autocommit=True) as conn:
        _insert(conn, "a", start, "pending")
        with pytest.raises(psycopg.errors.ExclusionViolation):
            _insert(conn, "b", start + timedelta(hours=1), "processing")
        # Back to back is fine: the ranges are half-open.
        _insert(conn, "c", start + timedelta(hours=2), "succeeded")
        # Dead reservations do not hold the slot.
        _insert(conn, "d", start, "expired")
        _insert(conn, "e", start, "cancelled")
        conn.execute("UPDATE reservations SET status = 'expired' WHERE id = 'a'")
        _insert(conn, "f", start, "pending")
        with pytest.raises(psycopg.errors.ExclusionViolation):
            conn.execute("UPDATE reservations SET status = 'succeeded' WHERE id = 'a'")


async def test_booking_through_the_service_layer(book: Callable[..., Any]) -> None:
    row = await book(service_id="mastering")
    assert row.status == "pending"
    assert row.amount == 6000
    assert row.ends_at - row.starts_at == timedelta(minutes=60)
    assert row.reference.startswith("RSV-")
