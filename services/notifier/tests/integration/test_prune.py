"""The running notifier deletes settled notifications past the retention (PRUNE_*); recent ones
and rows still `sending` (in doubt after a crash) stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from pydantic import SecretStr

from backbone.settings import DatabaseSettings
from devstack.testing import eventually
from notifier.adapters.migrate import upgrade

from .conftest import Stack

pytestmark = pytest.mark.integration


def _insert(url: str, rows: dict[str, tuple[str, float]]) -> None:
    """event_id -> (status, age in days)."""
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn:
        for event_id, (status, days) in rows.items():
            at = now - timedelta(days=days)
            conn.execute(
                "INSERT INTO notifications (event_id, event_type, template, recipient, subject,"
                " message_id, status, attempts, created_at, updated_at, sent_at)"
                " VALUES (%s, 'reservation.confirmed', 't', 'a@b.test', 's', %s, %s, 1, %s, %s,"
                " CASE WHEN %s = 'sent' THEN %s END)",
                (event_id, f"<{event_id}@x>", status, at, at, status, at),
            )


def _left(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT event_id FROM notifications")}


async def test_worker_prunes_settled_notifications_past_the_retention(stack: Stack) -> None:
    upgrade(DatabaseSettings(url=SecretStr(stack.database_url)))
    _insert(
        stack.database_url,
        {
            "old-sent": ("sent", 60),
            "old-failed": ("failed", 50),
            "old-sending": ("sending", 60),
            "recent-sent": ("sent", 5),
        },
    )
    stack.start_worker(PRUNE_INTERVAL_S="1")

    async def pruned() -> bool:
        return _left(stack.database_url) == {"old-sending", "recent-sent"}

    await eventually(pruned, timeout=90, what=lambda: f"pruned\n{stack.output()}")
