"""Benchmark of webhook-ingest: verified, broker-acknowledged webhooks per second, and latency.

    python services/webhook-ingest/bench/ingest_bench.py [--rate 3000] [--duration 15]

What it does, in one run:
1. a broker: KAFKA_BOOTSTRAP_SERVERS if set, else the embedded one (devstack), with the topics;
2. the service, `python -m webhook_ingest`, as its own process on a free port (or --target URL
   for one already running: then it must use STRIPE_WEBHOOK_SECRET as given to this script);
3. a separate load process (this file, `load` sub-command) driving it open-loop: requests leave
   on a fixed schedule whatever the answers do, and each latency is measured from the moment its
   request was due, so a slow server cannot hide its queueing (no coordinated omission). Every
   request is a distinct Stripe-shaped event, signed as Stripe signs;
4. the same load against a no-op FastAPI endpoint (bench/noop_app.py) on the same uvicorn
   settings, and the ratio of the two;
5. a count of the records on the topic, to show each 200 is on the broker.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import deque
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SECRET_DEFAULT = "whsec_bench_0123456789abcdef0123456789abcdef"  # noqa: S105 - bench only


# --------------------------------------------------------------------------------------------
# The load process
# --------------------------------------------------------------------------------------------


def build_requests(count: int, secret: str, host: str, body_pad: int) -> list[bytes]:
    """`count` distinct signed events as complete HTTP/1.1 requests."""
    now = int(time.time())
    out = []
    pad = "x" * body_pad
    for i in range(count):
        session = f"cs_test_{uuid.uuid4().hex}"
        event = {
            "id": f"evt_bench_{i:08d}_{uuid.uuid4().hex[:8]}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": now,
            "data": {
                "object": {
                    "id": session,
                    "object": "checkout.session",
                    "amount_total": 12999,
                    "currency": "usd",
                    "customer_email": "payer@example.com",
                    "metadata": {"type": "reservation_payment", "reservation_ids": "r1,r2"},
                    "mode": "payment",
                    "payment_intent": f"pi_{uuid.uuid4().hex[:24]}",
                    "payment_status": "paid",
                    "status": "complete",
                    "pad": pad,
                }
            },
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": "checkout.session.completed",
        }
        body = json.dumps(event, indent=2).encode()
        mac = hmac.new(secret.encode(), b"%d." % now + body, hashlib.sha256).hexdigest()
        head = (
            f"POST /webhooks/stripe HTTP/1.1\r\nHost: {host}\r\n"
            "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Stripe-Signature: t={now},v1={mac}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append(head + body)
    return out


class Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection carrying one request at a time."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.due = 0.0
        self.busy = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, request: bytes, due: float) -> None:
        self.busy = True
        self.due = due
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        length = 0
        if at >= 0:
            eol = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : eol if eol >= 0 else None])
        if len(self.buf) < end + 4 + length:
            return
        status = int(head[9:12])
        del self.buf[: end + 4 + length]
        self.busy = False
        self.pool.done(self, status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.busy:
            self.busy = False
            self.pool.done(self, 0)
        self.pool.lost(self)


class Pool:
    """Connections up to a cap; requests wait for one in order, their clock already running."""

    def __init__(self, host: str, port: int, cap: int) -> None:
        self.host, self.port, self.cap = host, port, cap
        self.idle: list[Conn] = []
        self.count = 0
        self.backlog: deque[tuple[bytes, float]] = deque()
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.measure_from = 0.0
        self.outstanding = 0
        self.loop = asyncio.get_running_loop()

    def submit(self, request: bytes, due: float) -> None:
        self.outstanding += 1
        if self.idle:
            self.idle.pop().send(request, due)
        else:
            self.backlog.append((request, due))
            if self.count < self.cap:
                self.count += 1
                self.loop.create_task(self._open())

    async def _open(self) -> None:
        try:
            transport, conn = await self.loop.create_connection(
                lambda: Conn(self), self.host, self.port
            )
        except OSError:
            self.count -= 1
            await asyncio.sleep(0.05)
            return
        conn.transport = transport
        self._give(conn)

    def _give(self, conn: Conn) -> None:
        if conn.closed:
            return
        if self.backlog:
            request, due = self.backlog.popleft()
            conn.send(request, due)
        else:
            self.idle.append(conn)

    def done(self, conn: Conn, status: int) -> None:
        now = time.perf_counter()
        self.outstanding -= 1
        if conn.due >= self.measure_from:
            self.latencies.append(now - conn.due)
            self.statuses[status] = self.statuses.get(status, 0) + 1
        if not conn.closed:
            self._give(conn)

    def lost(self, conn: Conn) -> None:
        self.count -= 1
        if conn in self.idle:
            self.idle.remove(conn)


async def send_on_schedule(
    pool: Pool, requests: list[bytes], start: float, interval: float, *, drain_s: float
) -> None:
    """Open loop: submit request i at `start + i * interval` (perf_counter time) whatever the
    server does, then wait up to `drain_s` for the answers still outstanding."""
    total, sent = len(requests), 0
    while sent < total:
        now = time.perf_counter()
        due_count = min(total, int((now - start) / interval) + 1) if now >= start else 0
        while sent < due_count:
            pool.submit(requests[sent], start + sent * interval)
            sent += 1
        await asyncio.sleep(0.001)
    deadline = time.perf_counter() + drain_s
    while pool.outstanding and time.perf_counter() < deadline:  # noqa: ASYNC110 - polled drain
        await asyncio.sleep(0.01)


async def drive(args: argparse.Namespace) -> dict[str, Any]:
    host, _, port_text = args.url.removeprefix("http://").partition(":")
    port = int(port_text.split("/")[0])
    total = int(args.rate * (args.warmup + args.duration))
    requests = build_requests(total, args.secret, f"{host}:{port}", args.body_pad)
    body_bytes = len(requests[0]) - requests[0].find(b"\r\n\r\n") - 4
    pool = Pool(host, port, args.connections)
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    interval = 1.0 / args.rate
    start = time.perf_counter() + 0.2
    pool.measure_from = start + args.warmup
    await send_on_schedule(pool, requests, start, interval, drain_s=30)
    end_sched = start + total * interval
    finished = time.perf_counter()
    load_cpu = (time.process_time() - cpu_start) / (finished - wall_start) * 100
    lat = sorted(pool.latencies)
    ok = pool.statuses.get(200, 0)
    measured_window = max(finished, end_sched) - pool.measure_from

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    return {
        "offered_rate": args.rate,
        "measured_s": round(measured_window, 2),
        "requests": len(lat),
        "ok": ok,
        "statuses": pool.statuses,
        "throughput_ok_per_s": round(ok / measured_window, 1),
        "p50_ms": round(pct(0.50), 2),
        "p90_ms": round(pct(0.90), 2),
        "p99_ms": round(pct(0.99), 2),
        "max_ms": round(lat[-1] * 1000, 2) if lat else float("nan"),
        "connections_opened": pool.count,
        "unfinished": pool.outstanding,
        "body_bytes": body_bytes,
        "load_cpu_percent": round(load_cpu, 1),
    }


def load_main(args: argparse.Namespace) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(drive(args))
    print(json.dumps(result))


# --------------------------------------------------------------------------------------------
# The orchestrator
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
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


def run_load(
    url: str, args: argparse.Namespace, pids: dict[str, int]
) -> tuple[dict[str, Any], dict[str, float]]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "load",
        "--url",
        url,
        "--rate",
        str(args.rate),
        "--duration",
        str(args.duration),
        "--warmup",
        str(args.warmup),
        "--connections",
        str(args.connections),
        "--secret",
        args.secret,
        "--body-pad",
        str(args.body_pad),
    ]
    load = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    cpu = CpuWatch(pids)
    stdout, _ = load.communicate(timeout=600)
    usage = cpu.report()
    if load.returncode != 0:
        raise RuntimeError(f"load process failed ({load.returncode})")
    result = dict(json.loads(stdout.strip().splitlines()[-1]))
    # The load process measures itself over its sending window (the machine-wide figure covers
    # the whole process, event generation included, so "others" is approximate).
    usage["load"] = result.pop("load_cpu_percent")
    usage["others"] = round(
        usage["machine"] - sum(v for k, v in usage.items() if k not in {"machine", "others"}), 1
    )
    return result, usage


class CpuWatch:
    """CPU seconds used by some processes across a window."""

    def __init__(self, pids: dict[str, int]) -> None:
        import psutil

        self.procs = {name: psutil.Process(pid) for name, pid in pids.items() if pid}
        self.start = {n: self._cpu(p) for n, p in self.procs.items()}
        self.t0 = time.monotonic()
        self.sys0 = psutil.cpu_times()
        self.psutil = psutil

    @staticmethod
    def _cpu(proc: Any) -> float:
        total = 0.0
        try:
            family = [proc, *proc.children(recursive=True)]
        except Exception:
            family = [proc]
        for p in family:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except Exception:  # noqa: S112 - a child may be gone
                continue
        return total

    def report(self) -> dict[str, float]:
        """Per process, and for the whole machine, % of one CPU over the window."""
        elapsed = time.monotonic() - self.t0
        out = {
            n: round((self._cpu(p) - self.start[n]) / elapsed * 100, 1)
            for n, p in self.procs.items()
        }
        now = self.psutil.cpu_times()
        busy = sum(
            getattr(now, f) - getattr(self.sys0, f)
            for f in ("user", "nice", "system", "irq", "softirq", "steal")
        )
        out["machine"] = round(busy / elapsed * 100, 1)
        out["others"] = round(out["machine"] - sum(v for k, v in out.items() if k != "machine"), 1)
        return out


def count_records(bootstrap: str, topic: str) -> int:
    from backbone.kafka.offsets import high_watermarks, partitions_of, reader
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


def fmt(name: str, r: dict[str, Any], cpu: dict[str, float]) -> str:
    statuses = ",".join(f"{k}:{v}" for k, v in sorted(r["statuses"].items()))
    cpu_text = " ".join(f"{k}={v}%" for k, v in cpu.items())
    return (
        f"{name:<16} offered {r['offered_rate']:>6}/s  ok {r['throughput_ok_per_s']:>8.1f}/s  "
        f"p50 {r['p50_ms']:>7.2f} ms  p90 {r['p90_ms']:>7.2f} ms  p99 {r['p99_ms']:>8.2f} ms  "
        f"max {r['max_ms']:>8.2f} ms  statuses {statuses}  conns {r['connections_opened']}  "
        f"cpu% {cpu_text}"
    )


def orchestrate(args: argparse.Namespace) -> None:  # noqa: PLR0915 - one linear script
    sys.path.insert(0, str(HERE))
    from backbone.kafka.admin import ensure_topics
    from backbone.settings import KafkaSettings
    from devstack.broker import EmbeddedBroker

    logs = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    broker = None
    procs: list[subprocess.Popen[bytes]] = []
    topic = f"stripe.events.bench.{uuid.uuid4().hex[:8]}"
    load_before = os.getloadavg()
    try:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap and not args.target:
            broker = EmbeddedBroker(log_file=logs / "broker.log").start()
            bootstrap = broker.bootstrap_servers
        results: dict[str, tuple[dict[str, Any], dict[str, float]]] = {}

        if args.target:
            url = args.target.rstrip("/")
            wait_http(url + "/readyz")
            results["webhook-ingest"] = run_load(url, args, {})
        else:
            assert bootstrap is not None
            asyncio.run(ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), {topic: 6}))
            port = free_port()
            env = {
                **os.environ,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "STRIPE_WEBHOOK_SECRET": args.secret,
                "WEBHOOK_INGEST_PORT": str(port),
                "WEBHOOK_INGEST_TOPIC": topic,
                "LOG_FORMAT": "json",
            }
            with open(logs / "service.log", "wb") as out:
                svc = subprocess.Popen(
                    [sys.executable, "-m", "webhook_ingest"], env=env, stdout=out, stderr=out
                )
            procs.append(svc)
            url = f"http://127.0.0.1:{port}"
            wait_http(url + "/readyz")
            pids = {"service": svc.pid, "broker": broker.pid if broker and broker.pid else 0}
            results["webhook-ingest"] = run_load(url, args, pids)
            svc.terminate()
            svc.wait(timeout=15)

        if not args.skip_noop:
            port = free_port()
            env = {**os.environ, "WEBHOOK_INGEST_PORT": str(port), "STRIPE_WEBHOOK_SECRET": "x"}
            with open(logs / "noop.log", "wb") as out:
                noop = subprocess.Popen(
                    [sys.executable, str(HERE / "noop_app.py")],
                    env=env,
                    stdout=out,
                    stderr=out,
                    cwd=HERE,
                )
            procs.append(noop)
            url = f"http://127.0.0.1:{port}"
            wait_http(url + "/healthz")
            results["no-op FastAPI"] = run_load(url, args, {"service": noop.pid})

        print(
            f"\nwebhook-ingest benchmark: {os.cpu_count()} CPUs (load average before:"
            f" {' '.join(f'{x:.2f}' for x in load_before)}), open-loop, "
            f"{args.duration}s measured after {args.warmup}s warm-up, "
            f"body {results['webhook-ingest'][0]['body_bytes']} B, logs in {logs}"
        )
        for name, (r, c) in results.items():
            print(fmt(name, r, c))
        ingest = results["webhook-ingest"][0]
        if "no-op FastAPI" in results:
            noop_r = results["no-op FastAPI"][0]
            ratio = ingest["throughput_ok_per_s"] / max(noop_r["throughput_ok_per_s"], 1e-9)
            print(f"throughput ratio ingest / no-op: {ratio:.3f}")
        if not args.target and bootstrap:
            on_topic = count_records(bootstrap, topic)
            total_ok = ingest["ok"]
            print(
                f"records on {topic}: {on_topic} (200s in the measured window: {total_ok};"
                " the topic also holds the warm-up)"
            )
        print(json.dumps({k: {**v[0], "cpu_percent": v[1]} for k, v in results.items()}))
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd")
    for p in (parser, sub.add_parser("load", help="the load process (started by the run)")):
        p.add_argument("--rate", type=float, default=3000, help="requests per second offered")
        p.add_argument("--duration", type=float, default=15, help="measured seconds")
        p.add_argument("--warmup", type=float, default=3, help="seconds before measuring")
        p.add_argument("--connections", type=int, default=256, help="connection cap")
        p.add_argument("--secret", default=os.environ.get("STRIPE_WEBHOOK_SECRET", SECRET_DEFAULT))
        p.add_argument("--body-pad", type=int, default=1024, help="filler bytes in each event")
    parser.add_argument("--target", help="URL of an already running service (no broker start)")
    parser.add_argument("--skip-noop", action="store_true", help="skip the no-op comparison")
    sub.choices["load"].add_argument("--url", required=True)
    args = parser.parse_args()
    if args.cmd == "load":
        load_main(args)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
