"""`python -m bench [idle] [--quick] [--target --reservation-db URL] [--parts ...]`: issue 11's
and issue 20's figures.

0. idle: the whole stack with no traffic for 60 s, % of one core per process (`bench.idle`);
   `python -m bench idle` runs that part alone;
1. ingest: webhook-ingest's own benchmark (`bench.ingest`, its own broker and processes), beside
   a no-op FastAPI endpoint;
2. end to end at a steady rate (200 payments/s for 60 s): 2xx -> reservation committed and
   2xx -> e-mail accepted by SMTP, every payment accounted for, and the CPU milliseconds each
   process spent per payment (`bench.cost`);
3. catch-up: the reservation worker stopped, a backlog queued, 1 then 2 worker processes;
4. the end-to-end figures at 1x, 2x, 4x and 8x the rate, 60 s each (`--steps`,
   `--step-duration`), so the knee shows;
5. relay catch-up: outbox rows one relay process publishes per second, and its CPU per row
   (`bench.relay`; `--relay-rows`).
Parts 2-4 run against a RunningStack of our own (the processes of `make run`, free ports, an
embedded broker and a durable embedded PostgreSQL), or with --target against `make run`'s stack
(catch-up is skipped there: it stops and starts workers). Results: BENCHMARKS.md (a dated section
at the top) and raw JSON under .data/bench/<time>/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import catchup, e2e, idle, relay, report
from bench.stack import System, own, target
from bench.stats import load_text

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("idle", "ingest", "e2e", "curve", "catchup", "relay")


def log(text: str) -> None:
    """Progress on stderr, with the load average (it matters on a shared 2-core machine)."""
    print(
        f"[bench {time.strftime('%H:%M:%S')} load {load_text()}] {text}",
        file=sys.stderr,
        flush=True,
    )


def run_ingest(quick: bool) -> dict[str, Any]:
    """webhook-ingest's benchmark, as `make bench-ingest` runs it; its JSON summary."""
    args = ["--duration", "4", "--warmup", "1"] if quick else []
    out = subprocess.run(
        [sys.executable, "-m", "bench.ingest", *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    ).stdout
    print(out, file=sys.stderr)
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:  # noqa: PLR0915 - one linear script
    """Run the chosen parts and write BENCHMARKS.md."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", choices=["idle"], help="idle: that part alone")
    parser.add_argument("--quick", action="store_true", help="short durations, small counts")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated: {PARTS}")
    parser.add_argument("--idle-seconds", type=float, help="idle window (60; quick 10)")
    parser.add_argument("--steps", default="1,2,4,8", help="load curve factors of --rate")
    parser.add_argument("--step-duration", type=float, help="seconds per curve step (60; quick 5)")
    parser.add_argument("--target", action="store_true", help="use `make run`'s running stack")
    parser.add_argument("--reservation-db", help="with --target: the reservation database URL")
    parser.add_argument("--rate", type=float, default=200.0, help="steady payments per second")
    parser.add_argument("--duration", type=float, help="steady seconds (60; quick 5)")
    parser.add_argument("--backlog", type=int, help="catch-up events (50,000; quick 2,000)")
    parser.add_argument("--workers", default="1,2", help="catch-up worker process counts")
    parser.add_argument("--relay-rows", type=int, help="relay catch-up rows (50,000; quick 5,000)")
    parser.add_argument("--profile", action="store_true", help="py-spy the worker in catch-up")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args()
    parts = ["idle"] if args.command == "idle" else [p for p in args.parts.split(",") if p]
    duration = args.duration or (5.0 if args.quick else 60.0)
    curve_s = args.step_duration or (5.0 if args.quick else 60.0)
    idle_s = args.idle_seconds or (10.0 if args.quick else 60.0)
    backlog = args.backlog or (2_000 if args.quick else 50_000)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    work = ROOT / ".data" / "bench" / stamp
    work.mkdir(parents=True, exist_ok=True)
    # Paths relative to the repository: BENCHMARKS.md names no machine's directories.
    raw = (work / "results.json").relative_to(ROOT)
    results: dict[str, Any] = {"load_at_start": load_text(), "raw": str(raw)}

    def save() -> None:
        (work / "results.json").write_text(json.dumps(results, indent=2, default=str))

    if "ingest" in parts:
        log("1. ingest benchmark (its own broker and service)")
        results["ingest"] = run_ingest(args.quick)
        save()
    system: System | None = None
    try:
        if set(parts) & {"idle", "e2e", "curve", "catchup", "relay"}:
            if args.target:
                if not args.reservation_db:
                    parser.error("--target needs --reservation-db (printed by `make run`)")
                system = target(args.reservation_db)
                results["stack"] = "make run (--target)"
            else:
                log("starting a stack of our own (RunningStack)")
                system = own(Path(tempfile.mkdtemp(prefix="bench-stack-", dir=work)))
                logs = system.stack.work_dir.relative_to(ROOT)  # type: ignore[union-attr]
                results["stack"] = f"RunningStack of our own, logs in {logs}"
        if system is not None and "idle" in parts:
            if not system.controllable:
                log("0. idle skipped: it reads the processes of a stack of its own (not --target)")
            else:
                log(f"0. idle: the whole stack with no traffic for {idle_s:.0f} s")
                results["idle"] = idle.run(system, idle_s, settle_s=5 if args.quick else 15)
                log(json.dumps(results["idle"]))
                save()
        if system is not None and "e2e" in parts:
            log(f"2. end to end: {args.rate:.0f}/s for {duration:.0f} s")
            results["e2e"] = e2e.run(system, args.rate, duration, work / "e2e", settle_s=90)
            log(json.dumps(results["e2e"]))
            save()
        if system is not None and "curve" in parts:
            results["curve"] = []
            for factor in [int(f) for f in args.steps.split(",") if f]:
                rate = args.rate * factor
                log(f"4. load curve {factor}x: {rate:.0f}/s for {curve_s:.0f} s")
                # Past the knee the queue drains after the load: bounded, what is left is shown.
                settle = min(max(60.0, curve_s * factor / 2), 300.0)
                r = e2e.run(system, rate, curve_s, work / f"curve-{factor}x", settle_s=settle)
                results["curve"].append([f"{factor}x", r])
                log(json.dumps(r))
                save()
        if system is not None and "catchup" in parts:
            if not system.controllable:
                log("3. catch-up skipped: it needs a stack of its own (not --target)")
            else:
                results["catchup"] = []
                for workers in [int(w) for w in args.workers.split(",")]:
                    log(f"3. catch-up: {backlog} events, {workers} worker process(es)")
                    r = catchup.run(
                        system,
                        backlog,
                        workers,
                        timeout_s=60 if args.quick else 150,
                        profile_dir=work / "profile" if args.profile else None,
                        profile_s=5 if args.quick else 15,
                    )
                    results["catchup"].append(r)
                    log(json.dumps(r))
                    save()
        if system is not None and "relay" in parts:
            if not system.controllable:
                log("5. relay catch-up skipped: it needs a stack of its own (not --target)")
            else:
                rows = args.relay_rows or (5_000 if args.quick else 50_000)
                log(f"5. relay catch-up: {rows} outbox rows, one relay process")
                results["relay"] = relay.run(system, rows, timeout_s=60 if args.quick else 300)
                log(json.dumps(results["relay"]))
                save()
    finally:
        if system is not None:
            system.stop()
    results.setdefault("stack", "none")
    save()
    output = Path(args.output)
    before = report.previous_cost(output)
    report.write(output, results, args.quick)
    log(f"written {args.output}")
    print(report.section(results, args.quick, before))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
