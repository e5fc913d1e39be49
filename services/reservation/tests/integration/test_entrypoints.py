"""`python -m reservation api` as a process: development start-up migrates, seeds and serves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from devstack.ports import free_port
from devstack.testing import ChildProcess, eventually

pytestmark = pytest.mark.integration


async def test_api_process_migrates_seeds_and_serves(
    make_database: Callable[[str], str], tmp_path: Path
) -> None:
    port = free_port()
    api = ChildProcess(
        ["-m", "reservation", "api"],
        env={
            "DATABASE_URL": make_database("reservation_api"),
            "RESERVATION_PORT": str(port),
            "RESERVATION_ENVIRONMENT": "development",
            "DEV_AUTH_DIR": str(tmp_path / "auth"),
        },
        log_path=tmp_path / "api.log",
    ).start()
    try:

        async def ready() -> bool:
            try:
                async with httpx.AsyncClient(timeout=2) as http:
                    r = await http.get(f"http://127.0.0.1:{port}/readyz")
            except httpx.HTTPError:
                return False
            return r.status_code == 200

        await eventually(ready, timeout=30, what=lambda: f"the API ready\n{api.output()}")
        async with httpx.AsyncClient(timeout=5) as http:
            services = (await http.get(f"http://127.0.0.1:{port}/api/services")).json()
            unauthenticated = await http.get(f"http://127.0.0.1:{port}/api/reservations")
    finally:
        api.terminate()
    assert {s["id"] for s in services} == {"recording", "mixing", "mastering"}
    assert unauthenticated.status_code == 401
