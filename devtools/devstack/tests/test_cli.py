"""`devstack up` on real parts: a start that fails stops what it had started."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from devstack.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_start_that_fails_stops_the_postgresql_it_had_started() -> None:
    # Outside pytest's temp root (made private again by every new session; PostgreSQL runs as
    # a user of its own when we are root).
    root = Path(tempfile.mkdtemp(prefix="devstack-failed-start-"))
    root.chmod(0o755)
    try:
        env = {
            **os.environ,
            "DEVSTACK_DATA_DIR": str(root / "data"),
            "DEVSTACK_NO_CONTAINERS": "1",
            # Nothing listens there: the topics cannot be created, after PostgreSQL started.
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        }
        env.pop("DATABASE_URL", None)
        done = subprocess.run(
            [sys.executable, "-m", "devstack.cli", "up", "--free-ports", "--infra-only"],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 1, done.stderr
        assert "what it had started is stopped" in done.stderr
        assert (root / "data" / "postgres" / "PG_VERSION").exists()  # it did start
        assert not (root / "data" / "postgres" / "postmaster.pid").exists()
    finally:
        shutil.rmtree(root, ignore_errors=True)
