"""Schemathesis against checkout's and the reservation API's OpenAPI schemas, authenticated:
no generated input may get a 500 (or any 5xx but a declared, retryable one).

A bounded run belongs to `make test`; `make fuzz` runs the same with more examples
(FUZZ_MAX_EXAMPLES). Each run is schemathesis' own CLI against the running stack, so what it
finds is reproducible from its output (`--seed`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from .harness import Harness

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "8"))
SEED = os.environ.get("FUZZ_SEED", "17")


@pytest.mark.parametrize("part", ["reservation-api", "checkout"])
def test_no_generated_request_gets_a_server_error(shared_stack: Harness, part: str) -> None:
    user = f"fuzz_{uuid.uuid4().hex[:8]}"
    token = shared_stack.stack.token(user, f"{user}@example.com")
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    done = subprocess.run(
        [
            st,
            "run",
            shared_stack.url(part, "/openapi.json"),
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            SEED,
            "--request-timeout",
            "20",
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    print(done.stdout[-4000:])  # the summary: operations, cases, checks
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
