"""Catch-up: the reservation worker stopped, a backlog of payment events queued, then started.

The backlog goes straight onto stripe.events with the key and headers webhook-ingest gives each
record (its own `read_event` and `_record_headers`), which is much faster than 50,000 HTTP
requests and leaves the topic exactly as ingest would. The notifier is stopped meanwhile so the
two cores go to the reservation worker and its outbox relay; the rate is reservations committed
per second between the first and the last commit (worker start-up and group join excluded, and
reported apart as the wall time from start to drained).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from backbone.kafka import Producer
from backbone.settings import KafkaSettings
from bench import profiling
from bench.payments import (
    as_ingested,
    event_body,
    new_batch,
    outcomes,
    seed,
    settled_count,
    transactions,
)
from bench.stack import System
from bench.stats import cpu_watch, load_text

WORKER = "reservation-worker"


async def _enqueue(kafka: str, bodies: list[bytes]) -> float:
    started = time.perf_counter()
    producer = Producer(KafkaSettings(bootstrap_servers=kafka), client_id="bench-backlog")
    await producer.start()
    try:
        for at in range(0, len(bodies), 1000):
            await producer.send_many([as_ingested(body) for body in bodies[at : at + 1000]])
    finally:
        await producer.stop()
    return time.perf_counter() - started


def run(
    system: System,
    events: int,
    workers: int,
    *,
    timeout_s: float,
    profile_dir: Path | None = None,
    profile_s: float = 20.0,
) -> dict[str, Any]:
    """One catch-up with `workers` worker processes; bounded by `timeout_s` once started."""
    stack = system.stack
    assert stack is not None, "catch-up stops and starts workers: it needs a stack of its own"
    names = [WORKER] + [f"{WORKER}-{n}" for n in range(2, workers + 1)]
    for name in names[1:]:
        if name not in stack.specs:
            system.add_worker(name)
    for name in (*names, "notifier"):
        if name in stack.children:
            stack.children[name].terminate()
    batch = new_batch(events, f"c{workers}w")
    seed_s = seed(system.reservation_db, batch)
    enqueue_s = asyncio.run(
        _enqueue(system.kafka, [event_body(p, batch.tag) for p in batch.payments])
    )
    load_before = load_text()
    started = time.time()
    for name in names:
        stack.start_process(name)
    cpu = cpu_watch(system.pids())
    profile = None
    if profile_dir is not None:
        # Sample once the worker is past start-up and the group join, in the thick of it.
        while settled_count(system.reservation_db, batch) == 0 and time.time() - started < 60:
            time.sleep(0.2)
        pid = stack.children[WORKER].proc.pid  # type: ignore[union-attr]
        profile = profiling.record(pid, profile_s, profile_dir / f"worker-{workers}w")
    deadline = time.monotonic() + timeout_s
    done = settled_count(system.reservation_db, batch)
    while done < events and time.monotonic() < deadline:
        time.sleep(0.5)
        done = settled_count(system.reservation_db, batch)
    drained = time.time()
    usage = cpu.report()
    commits = sorted(
        t for s, t in outcomes(system.reservation_db, batch).values() if s != "processing"
    )
    span = commits[-1] - commits[0] if len(commits) > 1 else float("nan")
    committed_in = transactions(system.reservation_db, batch)
    for name in names[1:]:
        stack.children[name].terminate()
    return {
        "events": events,
        "workers": workers,
        "seed_s": round(seed_s, 1),
        "enqueue_s": round(enqueue_s, 1),
        "drained": len(commits),
        "events_per_s": round((len(commits) - 1) / span, 1) if len(commits) > 1 else 0.0,
        "events_per_transaction": round(len(commits) / committed_in, 1) if committed_in else None,
        "first_commit_after_start_s": round(commits[0] - started, 1) if commits else None,
        "wall_start_to_drained_s": round(drained - started, 1),
        "cpu_percent": usage,
        "load_before": load_before,
        "profile": profile,
    }
