"""Migrations and the database's own guarantees (the catalog seed, the no-overlap constraint), and
the repository's write-back of reservations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from reservation.adapters.migrations import migrate, seed_catalog
from reservation.domain.model import Status

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


async def test_the_write_back_stores_every_changed_column_as_set(
    container: Any, book: Callable[..., Any], reservation_db: str
) -> None:
    """`Repository.flush` writes the changed reservations back whole: every mutable column comes
    back from PostgreSQL as the aggregate held it (awkward text, timestamps in another offset to
    the microsecond, NULLs, large amounts), and a reservation that did not change is not written."""
    changed, other, untouched = [
        await book(service_id=s) for s in ("mixing", "mastering", "recording")
    ]
    plus_five = timezone(timedelta(hours=5, minutes=30))
    when = datetime(2031, 5, 1, 10, 11, 12, 345678, tzinfo=plus_five)
    awkward = 'quote " back\\slash {brace} , NULL \u00e9\u2003\U0001f600'
    query = (
        "SELECT id, xmin::text, status, user_email, review_reason, paid_at, paid_amount,"
        " paid_currency, updated_at, current_session_id, session_expires_at FROM reservations"
    )
    with psycopg.connect(reservation_db) as conn:
        before = {r[0]: r[1:] for r in conn.execute(query)}
    async with container.uow() as uow:
        locked = {r.id: r for r in await uow.repo.lock_many([changed.id, other.id, untouched.id])}
        first, second = locked[changed.id], locked[other.id]
        first.status = Status.SUCCEEDED
        first.user_email = "o'brien@example.com"
        first.review_reason = awkward
        first.paid_at = when
        first.paid_amount = 2**53 + 1
        first.paid_currency = "eur"
        first.updated_at = when
        second.current_session_id = "cs_test_\\x00"
        second.session_expires_at = when + timedelta(microseconds=1)
        await uow.commit()
    with psycopg.connect(reservation_db) as conn:
        after = {r[0]: r[1:] for r in conn.execute(query)}
    assert after[changed.id][1:] == (
        "succeeded",
        "o'brien@example.com",
        awkward,
        when,
        2**53 + 1,
        "eur",
        when,
        None,
        None,
    )
    assert after[other.id][8:] == ("cs_test_\\x00", when + timedelta(microseconds=1))
    assert after[untouched.id] == before[untouched.id]  # the same row version: not written
    assert after[changed.id][0] != before[changed.id][0]

    async with container.uow() as uow:
        (again,) = await uow.repo.lock_many([changed.id])
        again.review_reason, again.paid_at = None, None
        await uow.commit()
    with psycopg.connect(reservation_db) as conn:
        cleared = {r[0]: r[1:] for r in conn.execute(query)}
    assert cleared[changed.id][3:5] == (None, None)
    assert cleared[changed.id][5:] == after[changed.id][5:]
