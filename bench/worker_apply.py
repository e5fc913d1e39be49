"""The reservation worker's batch path alone: CPU per event and per transaction, by batch size.

No broker and no Faust: the worker's own batch handler (`reservation.adapters.records`, built by
`reservation.bootstrap.build` as the worker builds it) is handed records of signed
`checkout.session.completed` events, as the agent hands them over, against a real PostgreSQL
(DATABASE_URL, else a container, else embedded; an embedded one is durable, as `make run`'s and
the other parts' are, so each commit waits for its flush) seeded with the payments they pay
(`bench.payments`). For each batch size it reports this process's CPU per event and per
transaction, and PostgreSQL's CPU per event (its backends' and the postmaster's, when it runs
here).
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
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from backbone.kafka import Message
from backbone.logging import configure_logging
from backbone.settings import DatabaseSettings, LogSettings
from bench import payments, profiling
from bench.stats import load_text, process_tree_cpu
from devstack.infra import provide_postgres
from devstack.postgres import ensure_database
from reservation.adapters.migrations import migrate, seed_catalog
from reservation.adapters.records import make_handler
from reservation.bootstrap import build
from reservation.settings import Settings


def _database(server_url: str) -> str:
    """A new database on the server, migrated and seeded with the catalog."""
    url = ensure_database(server_url, f"bench_apply_{uuid.uuid4().hex[:8]}")
    migrate(url)
    seed_catalog(url)
    return url


def _records(batch: payments.Batch) -> list[Message]:
    """The records ingest would have put on stripe.events for the batch's payments, as the
    agent hands them over."""
    records = []
    for offset, p in enumerate(batch.payments):
        record = payments.as_ingested(payments.event_body(p, batch.tag))
        records.append(
            Message(
                topic=record.topic,
                partition=0,
                offset=offset,
                key=record.key,
                value=record.value,
                headers=tuple(record.headers),
                timestamp_ms=int(time.time() * 1000),
            )
        )
    return records


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
        pg_before = _postgres_cpu_s(postmaster)
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
        pg = _postgres_cpu_s(postmaster) - pg_before if postmaster else None
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


def _postgres_cpu_s(postmaster: int | None) -> float:
    """CPU seconds of the PostgreSQL server so far (the postmaster and its backends)."""
    return process_tree_cpu({"postgres": postmaster})["postgres"] if postmaster else 0.0


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
    # Durable, as bench.stack's: a commit here waits for its WAL flush, as in `make run`.
    postgres = provide_postgres(data_dir=work / "postgres")
    server = postgres.embedded_postgres
    try:
        # Its CPU is counted only when it runs here.
        postmaster = server.pids()[0] if server is not None else None
        url = _database(postgres.address)
        rows = []
        for size in sizes:
            profile = work / f"apply-{size}" if args.profile == size else None
            row = await _run_size(url, size, args.events, postmaster, profile)
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        postgres.stop()
        if server is not None:
            shutil.rmtree(server.data_dir, ignore_errors=True)
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
