"""Migration 0004 extends the status constraints it finds (another revision's statuses survive),
and goes down and up again."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files

import psycopg
import pytest
from alembic import command

from backbone.db import alembic_config
from reservation.adapters.migrations import migrate

pytestmark = pytest.mark.integration


def _definition(url: str, name: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s", (name,)
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_statuses_another_revision_added_survive_and_it_goes_down(
    make_database: Callable[[str], str],
) -> None:
    url = make_database("reservation")
    migrate(url, "0002")
    # A sibling revision (refunds, say) that ran first added a status of its own.
    with psycopg.connect(url) as conn:
        conn.execute("ALTER TABLE reservations DROP CONSTRAINT reservations_status_known")
        conn.execute(
            "ALTER TABLE reservations ADD CONSTRAINT reservations_status_known CHECK (status IN"
            " ('pending', 'processing', 'succeeded', 'failed', 'expired', 'refunded',"
            " 'cancelled', 'needs_review', 'partially_refunded'))"
        )
    migrate(url)
    known = _definition(url, "reservations_status_known")
    for status in ("partially_refunded", "disputed", "dispute_lost", "needs_review"):
        assert f"'{status}'" in known
    live = _definition(url, "reservations_no_overlap")
    assert "'disputed'" in live
    assert "'dispute_lost'" not in live
    assert "'disputed'" in _definition(url, "orders_status_known")

    command.downgrade(alembic_config(files("reservation") / "migrations", url), "0002")
    known = _definition(url, "reservations_status_known")
    assert "'disputed'" not in known
    assert "'partially_refunded'" in known
    assert "'disputed'" not in _definition(url, "reservations_no_overlap")
    migrate(url)
    assert "'disputed'" in _definition(url, "reservations_no_overlap")
