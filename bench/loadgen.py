"""The open-loop load process: signed webhooks on a fixed schedule, each answer's time recorded.

    python -m bench.loadgen --url URL --rate R --secret S --bodies FILE --out FILE

It reuses the connection pool of webhook-ingest's own benchmark (services/webhook-ingest/bench):
requests leave when they are due whatever the server does, waiting in order for a connection
with their clock already running. For each request it writes the wall-clock time it was due and
the time its answer arrived, so the orchestrator can measure from the scheduled send (HTTP) and
from the 2xx (end to end).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.payments import signature

INGEST_BENCH = Path(__file__).resolve().parents[1] / "services" / "webhook-ingest" / "bench"


def _ingest_bench() -> Any:
    sys.path.insert(0, str(INGEST_BENCH))
    import ingest_bench

    return ingest_bench


async def drive(args: argparse.Namespace) -> dict[str, Any]:
    """Send every body at `rate`/s; record (due, answered, status) per request."""
    ib = _ingest_bench()
    host, _, port_text = args.url.removeprefix("http://").partition(":")
    port = int(port_text.split("/")[0])
    bodies = Path(args.bodies).read_bytes().splitlines()  # noqa: ASYNC240 - before the clock
    now = int(time.time())
    requests = []
    for body in bodies:
        head = (
            f"POST /webhooks/stripe HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Stripe-Signature: {signature(body, args.secret, now)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        requests.append(head + body)
    answers: list[tuple[float, float, int]] = []

    class Recording(ib.Pool):  # type: ignore[misc, name-defined]
        def done(self, conn: Any, status: int) -> None:
            answers.append((conn.due, time.perf_counter(), status))
            super().done(conn, status)

    pool = Recording(host, port, args.connections)
    interval = 1.0 / args.rate
    start = time.perf_counter() + 0.2
    wall_offset = time.time() - time.perf_counter()
    cpu_start = time.process_time()
    total = len(requests)
    await ib.send_on_schedule(pool, requests, start, interval, drain_s=60)
    elapsed = time.perf_counter() - start
    due = [0.0] * total
    answered = [0.0] * total
    status = [0] * total
    for d, a, st in answers:
        i = round((d - start) / interval)
        due[i], answered[i], status[i] = d + wall_offset, a + wall_offset, st
    return {
        "due": due,
        "answered": answered,
        "status": status,
        "unfinished": pool.outstanding,
        "connections": pool.count,
        "load_cpu_percent": round((time.process_time() - cpu_start) / elapsed * 100, 1),
    }


def run(
    url: str,
    secret: str,
    bodies: list[bytes],
    rate: float,
    work_dir: Path,
    *,
    connections: int = 256,
) -> dict[str, Any]:
    """Run the load process to completion and return what it recorded."""
    work_dir.mkdir(parents=True, exist_ok=True)
    bodies_file, out_file = work_dir / "bodies.jsonl", work_dir / "answers.json"
    bodies_file.write_bytes(b"\n".join(bodies))  # bodies hold no newline
    cmd = [
        sys.executable,
        "-m",
        "bench.loadgen",
        "--url",
        url,
        "--rate",
        str(rate),
        "--secret",
        secret,
        "--bodies",
        str(bodies_file),
        "--out",
        str(out_file),
        "--connections",
        str(connections),
    ]
    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    subprocess.run(cmd, check=True, cwd=root, env=env, timeout=900)
    return dict(json.loads(out_file.read_text()))


def main() -> None:
    """Entry point of the load process."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--bodies", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--connections", type=int, default=256)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(drive(args))
    Path(args.out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
