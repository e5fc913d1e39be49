"""The reservation worker's batch path alone: CPU per event and per transaction, by batch size.

No broker and no Faust: the worker's own batch handler (`reservation.adapters.records`, built by
`reservation.bootstrap.build` as the worker builds it) is handed records of signed
`checkout.session.completed` events, as the agent hands them over, against a real PostgreSQL
(embedded unless DATABASE_URL is set) seeded with the payments they pay (`bench.payments`). For
each batch size it reports this process's CPU per event and per transaction, PostgreSQL's CPU per
event (its backends' and the postmaster's, when it runs here).
Fitting CPU = fixed + n x per-event over the sizes splits what a transaction costs from what an
event costs: at 1x (200 payments/s) the worker's batches hold a few events each, in catch-up 200.

    python -m bench.worker_apply --events 4000 --sizes 1,8,50,200 [--profile 200]

`--profile N` samples this process with py-spy while the N-size batches run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from pydantic import SecretStr

from backbone.kafka import Message
from backbone.logging import configure_logging
from backbone.settings import DatabaseSettings, LogSettings
from bench import payments, profiling
from bench.stats import load_text
from contracts import headers as h
from contracts.topics import STRIPE_EVENTS
from devstack.infra import provide_postgres
from reservation.adapters.migrations import migrate, seed_catalog
from reservation.adapters.records import make_handler
from reservation.bootstrap import build
from reservation.settings import Settings


def _database(server_url: str) -> str:
    """A new database on the server, migrated and seeded with the catalog."""
    name = f"bench_apply_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server_url.partition("?")[0].rpartition("/")
    url = f"{base}/{name}"
    migrate(url)
    seed_catalog(url)
    return url


def _records(batch: payments.Batch) -> list[Message]:
    """The records ingest would have put on stripe.events for the batch's payments."""
    records = []
    for offset, p in enumerate(batch.payments):
        event_id = f"evt_bench_{batch.tag}_{p.index:06d}"
        headers = h.stripe_event_headers(
            event_id=event_id,
            event_type="checkout.session.completed",
            livemode=False,
            received_at="2026-01-01T00:00:00.000+00:00",
            request_id=uuid.uuid4().hex,
            correlation_id=p.session_id,
            api_version=payments.API_VERSION,
        )
        records.append(
            Message(
                topic=STRIPE_EVENTS,
                partition=0,
                offset=offset,
                key=p.session_id.encode(),
                value=payments.event_body(p, batch.tag),
                headers=tuple(headers),
                timestamp_ms=int(time.time() * 1000),
            )
        )
    return records


def _postgres_cpu_s(pids: list[int]) -> float:
    """utime + stime of these PostgreSQL processes and their children (the backends)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    seen: set[int] = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        todo += [int(c) for c in children]
    return total


async def _run_size(
    url: str, size: int, events: int, postmaster: int | None, profile: Path | None
) -> dict[str, Any]:
    """Seed `events` payments and apply them in batches of `size`; the figures of the run."""
    batch = payments.new_batch(events, f"a{size}")
    payments.seed(url, batch)
    records = _records(batch)
    settings = Settings(
        environment="production",
        consumer_group="bench-apply",
        database=DatabaseSettings(url=SecretStr(url)),
    )
    container = build(settings, application_name="bench-apply")
    handler = make_handler(container.payments)
    try:
        await handler(records[:1])  # connect and warm the statement caches
        records = records[1:]
        pg_before = _postgres_cpu_s([postmaster]) if postmaster else 0.0
        sampler = None
        if profile is not None:  # py-spy from a thread: sampling ourselves must not block the loop
            sampler = asyncio.create_task(
                asyncio.to_thread(profiling.record, os.getpid(), 10, profile)
            )
        cpu, wall = time.process_time(), time.perf_counter()
        for start in range(0, len(records), size):
            await handler(records[start : start + size])
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if sampler is not None:
            await sampler
        pg = (_postgres_cpu_s([postmaster]) - pg_before) if postmaster else None
    finally:
        await container.close()
    applied = len(records)
    transactions = -(-applied // size)
    return {
        "size": size,
        "events": applied,
        "transactions": transactions,
        "events_per_s": round(applied / wall, 1),
        "worker_cpu_ms_per_event": round(cpu * 1000 / applied, 3),
        "worker_cpu_ms_per_transaction": round(cpu * 1000 / transactions, 3),
        "postgres_cpu_ms_per_event": round(pg * 1000 / applied, 3) if pg is not None else None,
    }


def _fit(rows: list[dict[str, Any]]) -> tuple[float, float] | None:
    """Least squares of CPU per transaction = fixed + size x per-event (ms)."""
    points = [(r["size"], r["worker_cpu_ms_per_transaction"]) for r in rows]
    if len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    return my - slope * mx, slope


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench-apply-"))
    postgres = provide_postgres()
    try:
        server = postgres.embedded_postgres
        postmaster = None
        if server is not None:  # its CPU is counted only when it runs here
            postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
        url = _database(postgres.address)
        rows = []
        for size in sizes:
            profile = work / f"apply-{size}" if args.profile == size else None
            row = await _run_size(url, size, args.events, postmaster, profile)
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        postgres.stop()
    fit = _fit(rows)
    return {
        "load_before": args.load_before,
        "rows": rows,
        "fixed_ms_per_transaction": round(fit[0], 3) if fit else None,
        "ms_per_event": round(fit[1], 3) if fit else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker_apply", description=__doc__)
    parser.add_argument("--events", type=int, default=4000, help="events per batch size")
    parser.add_argument("--sizes", default="1,8,50,200", help="batch sizes, comma-separated")
    parser.add_argument("--profile", type=int, help="py-spy the run of this batch size (10 s)")
    parser.add_argument("--work-dir", help="where profiles go (a new temporary folder)")
    args = parser.parse_args()
    configure_logging("bench-apply", LogSettings(level="WARNING"))
    args.load_before = load_text()
    summary = asyncio.run(_main(args))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
