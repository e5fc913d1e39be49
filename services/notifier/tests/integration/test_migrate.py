"""`python -m notifier migrate` creates the schema on an empty database; re-running is a no-op."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

pytestmark = pytest.mark.integration


def test_migrate_command_is_idempotent(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_FORMAT": "json"}
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "notifier", "migrate"],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
    with psycopg.connect(database_url) as conn:
        columns = {
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'notifications'"
            )
        }
        [(version,)] = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert {"event_id", "status", "message_id", "attempts", "last_error"} <= columns
    assert version == "0001"
