"""Benchmark of webhook-ingest: its ceiling beside a no-op endpoint, its latency, its overload.

    python -m bench.ingest [--rate 3000] [--duration 15] [--overload 2] [--workers 1]
    make bench-ingest BENCH_ARGS="--duration 10"

What it does, in one run:
1. a broker: KAFKA_BOOTSTRAP_SERVERS if set, else the embedded one (devstack), with a topic of
   its own;
2. the service, `python -m webhook_ingest`, and a no-op FastAPI endpoint (`bench.ingest_noop`,
   the same uvicorn settings and worker count), each its own process on a free port (or
   --target URL for a service already running: it must use STRIPE_WEBHOOK_SECRET as given here);
3. closed loop (`bench.loadgen --closed`, `--closed-connections`, 256 by default): the maximum
   throughput of each, and the ratio of the two; the same load process drives both, one right
   after the other;
4. open loop at `--rate` (3,000/s): latency from the moment each request was due, so a slow
   server cannot hide its queueing (no coordinated omission), for each;
5. overload: open loop at `--overload` (2) times the closed-loop maximum of ingest, with enough
   connections (`--overload-connections`) that the excess reaches the server as Stripe's
   deliveries would: accepted/s and their latency, and the 503s (shed, with Retry-After) with
   theirs;
6. the records on the topic against the 2xx answered over every ingest run: each 200 is on the
   broker, once.

Every request is a distinct Stripe-shaped event signed as Stripe signs (closed loop: reused in
turn once used up). CPU is measured per process (and per request) and for the whole machine: on
a shared machine read the figures beside the load average and "others".
The last line printed is the JSON of every figure (`python -m bench` reads it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from bench.loadgen import ROOT, CpuWatch, run_process

SECRET_DEFAULT = "whsec_bench_0123456789abcdef0123456789abcdef"  # noqa: S105 - bench only
INGEST, NOOP = "webhook-ingest", "no-op FastAPI"


def free_port() -> int:
    """A free local TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    """Until `url` answers 200."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - local URL
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not ready")
        time.sleep(0.1)


def pct(values: list[float], p: float) -> float:
    """The p-quantile of `values` (seconds) in milliseconds, rounded; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2)


def latency(values: list[float]) -> dict[str, float]:
    """p50, p90, p99 and max in milliseconds."""
    return {
        "p50_ms": pct(values, 0.50),
        "p90_ms": pct(values, 0.90),
        "p99_ms": pct(values, 0.99),
        "max_ms": round(max(values) * 1000, 2) if values else float("nan"),
    }


def summarize(answers: dict[str, Any], window_end: float | None = None) -> dict[str, Any]:
    """Throughput and latency over the measured window.

    Open loop: the requests due after the warm-up, over the time from then to the last answer
    (or the end of the schedule); closed loop: the answers that arrived inside the window.
    """
    start = answers["measure_from"]
    rows = list(zip(answers["due"], answers["answered"], answers["status"], strict=True))
    if answers["mode"] == "closed":
        end = answers["end"]
        rows = [r for r in rows if start <= r[1] <= end]
    else:
        rows = [r for r in rows if r[0] >= start]
        end = max([a for _, a, _ in rows] + [window_end or start])
    window = max(end - start, 1e-9)
    statuses: dict[str, int] = {}
    for _, _, st in rows:
        statuses[str(st)] = statuses.get(str(st), 0) + 1
    ok = [a - d for d, a, st in rows if 200 <= st < 300]
    shed = [a - d for d, a, st in rows if st == 503]
    return {
        "mode": answers["mode"],
        "offered_rate": answers["offered_rate"],
        "measured_s": round(window, 2),
        "requests": len(rows),
        "ok": len(ok),
        "statuses": statuses,
        "throughput_ok_per_s": round(len(ok) / window, 1),
        **latency(ok),
        "status_503_per_s": round(len(shed) / window, 1),
        "status_503": {"count": len(shed), **latency(shed)},
        "connections_opened": answers["connections"],
        "unfinished": answers["unfinished"],
        "body_bytes": answers["body_bytes"],
        # Every 2xx of the whole run, warm-up included: what the topic must hold.
        "ok_all": sum(1 for st in answers["status"] if 200 <= st < 300),
    }


def drive(
    name: str, url: str, args: argparse.Namespace, pids: dict[str, int], *options: str
) -> dict[str, Any]:
    """One load process against `url`; its summary with the CPU the processes used meanwhile."""
    work = args.work / f"run-{len(args.runs)}"
    cpu = CpuWatch(pids)
    answers = run_process(url, args.secret, work, "--warmup", str(args.warmup), *options)
    seconds = cpu.seconds()
    usage = cpu.report()
    usage["load"] = answers["load_cpu_percent"]
    usage["others"] = round(
        usage["machine"] - sum(v for k, v in usage.items() if k not in {"machine", "others"}), 1
    )
    window_end = None
    if answers["mode"] == "open":
        window_end = answers["start"] + answers["requests"] / answers["offered_rate"]
    result = summarize(answers, window_end)
    result["cpu_percent"] = usage
    if "service" in seconds and answers["status"]:
        # Server CPU per answered request over the whole load run: what bounds the throughput
        # one core gives, whatever else the machine runs.
        result["service_cpu_us_per_request"] = round(
            seconds["service"] / len(answers["status"]) * 1e6, 1
        )
    args.runs.append((name, result))
    print(fmt(name, result), flush=True)
    return result


def closed(name: str, url: str, args: argparse.Namespace, pids: dict[str, int]) -> dict[str, Any]:
    """The closed-loop maximum."""
    return drive(
        name,
        url,
        args,
        pids,
        "--closed",
        "--duration",
        str(args.duration),
        "--connections",
        str(args.closed_connections),
        "--synthetic",
        str(args.closed_events),
        "--body-pad",
        str(args.body_pad),
    )


def opened(
    name: str,
    url: str,
    args: argparse.Namespace,
    pids: dict[str, int],
    *,
    rate: float,
    conns: int,
) -> dict[str, Any]:
    """Open loop at `rate`/s, distinct events, up to `conns` connections."""
    return drive(
        name,
        url,
        args,
        pids,
        "--rate",
        str(rate),
        "--connections",
        str(conns),
        "--synthetic",
        str(int(rate * (args.warmup + args.duration))),
        "--body-pad",
        str(args.body_pad),
    )


def count_records(bootstrap: str, topic: str) -> int:
    """Records on the topic (sum of the partitions' high watermarks)."""
    from backbone.kafka import high_watermarks, partitions_of, reader
    from backbone.settings import KafkaSettings

    async def count() -> int:
        consumer = reader(KafkaSettings(bootstrap_servers=bootstrap), "bench-count")
        await consumer.start()
        try:
            tps = await partitions_of(consumer, topic)
            return sum((await high_watermarks(consumer, tps)).values())
        finally:
            await consumer.stop()

    return asyncio.run(count())


def fmt(name: str, r: dict[str, Any]) -> str:
    """One line per run."""
    statuses = ",".join(f"{k}:{v}" for k, v in sorted(r["statuses"].items()))
    cpu_text = " ".join(f"{k}={v}%" for k, v in r["cpu_percent"].items())
    offered = "closed loop" if r["mode"] == "closed" else f"offered {r['offered_rate']:.0f}/s"
    line = (
        f"{name:<28} {offered:<16} ok {r['throughput_ok_per_s']:>7.0f}/s  p50 {r['p50_ms']:>8.1f}"
        f"  p99 {r['p99_ms']:>8.1f}  max {r['max_ms']:>8.1f} ms  statuses {statuses}"
        f"  conns {r['connections_opened']}"
    )
    if r["status_503"]["count"]:
        shed = r["status_503"]
        line += (
            f"  503 {r['status_503_per_s']:.0f}/s p50 {shed['p50_ms']:.1f} p99 {shed['p99_ms']:.1f}"
            " ms"
        )
    if "service_cpu_us_per_request" in r:
        line += f"  service CPU {r['service_cpu_us_per_request']:.0f} us/request"
    return f"{line}  cpu% {cpu_text}"


def start_server(
    cmd: list[str], env: dict[str, str], log: Path, health: str
) -> subprocess.Popen[bytes]:
    """A server process, once `health` answers (stopped again when it does not)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=out, cwd=ROOT)
    try:
        wait_http(health)
    except BaseException:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise
    return proc


def orchestrate(args: argparse.Namespace) -> dict[str, Any]:  # noqa: PLR0915 - one linear script
    """Start what is needed, run the parts, print and return every figure."""
    from backbone.kafka import ensure_topics
    from backbone.settings import KafkaSettings
    from devstack.broker import EmbeddedBroker

    args.work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    args.runs = []
    parts = set(args.parts.split(","))
    broker = None
    procs: list[subprocess.Popen[bytes]] = []
    topic = f"stripe.events.bench.{uuid.uuid4().hex[:8]}"
    load_before = os.getloadavg()
    out: dict[str, Any] = {}
    try:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        base_env = {
            **os.environ,
            "WEBHOOK_INGEST_WORKERS": str(args.workers),
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "LOG_FORMAT": "json",
        }
        if args.target:
            ingest_url = args.target.rstrip("/")
            wait_http(ingest_url + "/readyz")
            ingest_pids: dict[str, int] = {}
        else:
            if not bootstrap:
                broker = EmbeddedBroker(log_file=args.work / "broker.log").start()
                bootstrap = broker.bootstrap_servers
            asyncio.run(ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), {topic: 6}))
            port = free_port()
            env = {
                **base_env,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "STRIPE_WEBHOOK_SECRET": args.secret,
                "WEBHOOK_INGEST_PORT": str(port),
                "WEBHOOK_INGEST_TOPIC": topic,
            }
            ingest_url = f"http://127.0.0.1:{port}"
            svc = start_server(
                [sys.executable, "-m", "webhook_ingest"],
                env,
                args.work / "service.log",
                ingest_url + "/readyz",
            )
            procs.append(svc)
            ingest_pids = {"service": svc.pid, "broker": broker.pid if broker and broker.pid else 0}
        noop_url = None
        noop_pids: dict[str, int] = {}
        if not args.skip_noop:
            port = free_port()
            env = {**base_env, "WEBHOOK_INGEST_PORT": str(port), "STRIPE_WEBHOOK_SECRET": "x"}
            noop_url = f"http://127.0.0.1:{port}"
            noop = start_server(
                [sys.executable, "-m", "bench.ingest_noop"],
                env,
                args.work / "noop.log",
                noop_url + "/healthz",
            )
            procs.append(noop)
            noop_pids = {"service": noop.pid}

        print(
            f"webhook-ingest benchmark: {os.cpu_count()} CPUs (load average before:"
            f" {' '.join(f'{x:.2f}' for x in load_before)}), {args.workers} worker process(es)"
            f" each, {args.duration:g} s measured after {args.warmup:g} s warm-up per run,"
            f" logs in {args.work}",
            flush=True,
        )
        if "closed" in parts:
            closed_ingest = closed(f"{INGEST} max", ingest_url, args, ingest_pids)
            out["closed_loop"] = {INGEST: closed_ingest}
            if noop_url:
                closed_noop = closed(f"{NOOP} max", noop_url, args, noop_pids)
                ratio = closed_ingest["throughput_ok_per_s"] / max(
                    closed_noop["throughput_ok_per_s"], 1e-9
                )
                out["closed_loop"] |= {NOOP: closed_noop, "ratio": round(ratio, 3)}
                print(f"closed-loop maximum, ingest / no-op: {ratio:.3f}", flush=True)
        if "open" in parts:
            out[INGEST] = opened(
                f"{INGEST} fixed rate",
                ingest_url,
                args,
                ingest_pids,
                rate=args.rate,
                conns=args.connections,
            )
            if noop_url:
                out[NOOP] = opened(
                    f"{NOOP} fixed rate",
                    noop_url,
                    args,
                    noop_pids,
                    rate=args.rate,
                    conns=args.connections,
                )
                ratio = out[INGEST]["throughput_ok_per_s"] / max(
                    out[NOOP]["throughput_ok_per_s"], 1e-9
                )
                print(f"fixed-rate throughput, ingest / no-op: {ratio:.3f}", flush=True)
        if "overload" in parts:
            capacity = args.capacity or (
                out["closed_loop"][INGEST]["throughput_ok_per_s"] if "closed_loop" in out else 0
            )
            if not capacity:
                raise SystemExit("--parts overload without closed: give --capacity")
            rate = round(args.overload * capacity)
            result = opened(
                f"{INGEST} {args.overload:g}x overload",
                ingest_url,
                args,
                ingest_pids,
                rate=rate,
                conns=args.overload_connections,
            )
            out["overload"] = {"capacity": capacity, "factor": args.overload, **result}
        if not args.target and bootstrap:
            on_topic = count_records(bootstrap, topic)
            ingest_runs = [r for name, r in args.runs if name.startswith(INGEST)]
            answered = sum(r["ok_all"] for r in ingest_runs)
            unfinished = sum(r["unfinished"] for r in ingest_runs)
            out["records_on_topic"] = {
                "records": on_topic,
                "ok_answered": answered,
                "unfinished": unfinished,
            }
            # Equal, unless the load stopped waiting for some answers (its drain bound): those
            # requests may have been published after all, or never sent.
            print(
                f"records on {topic}: {on_topic}; 2xx answered by ingest over every run:"
                f" {answered}; requests whose answer the load stopped waiting for: {unfinished}",
                flush=True,
            )
        out["load_average_before"] = list(load_before)
        out["load_average_after"] = list(os.getloadavg())
        out["workers"] = args.workers
        print(json.dumps(out))
        return out
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
        if broker is not None:
            broker.stop()


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--parts", default="closed,open,overload", help="closed,open,overload")
    parser.add_argument("--rate", type=float, default=3000, help="fixed open-loop rate (/s)")
    parser.add_argument("--duration", type=float, default=15, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=3, help="seconds before measuring")
    parser.add_argument("--connections", type=int, default=256, help="fixed-rate connection cap")
    parser.add_argument("--closed-connections", type=int, default=256, help="closed loop")
    parser.add_argument("--closed-events", type=int, default=20_000, help="distinct, reused")
    parser.add_argument("--overload", type=float, default=2.0, help="times the capacity")
    parser.add_argument("--capacity", type=float, help="capacity (/s) instead of the closed run")
    parser.add_argument("--overload-connections", type=int, default=1024, help="connection cap")
    parser.add_argument("--workers", type=int, default=1, help="processes of each server")
    parser.add_argument("--secret", default=os.environ.get("STRIPE_WEBHOOK_SECRET", SECRET_DEFAULT))
    parser.add_argument("--body-pad", type=int, default=1024, help="filler bytes in each event")
    parser.add_argument("--target", help="URL of an already running service (no broker start)")
    parser.add_argument("--skip-noop", action="store_true", help="skip the no-op comparison")
    orchestrate(parser.parse_args())


if __name__ == "__main__":
    main()
