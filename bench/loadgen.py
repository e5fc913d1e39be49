"""The load generator: signed Stripe webhooks over keep-alive HTTP/1.1, each answer's time recorded.

    python -m bench.loadgen --url URL --secret S --out FILE
        (--bodies FILE | --synthetic N [--body-pad B])
        (--rate R | --closed --duration D) [--warmup W] [--connections C]

One load generator for every benchmark (ingest's, `bench.ingest`, and the pipeline's,
`bench.e2e`), run as a process of its own so its CPU is not the server's:

- open loop (`--rate`): request i is due at `start + i / rate` and leaves then whatever the server
  does, waiting in order for a free connection (at most `--connections`) with its clock already
  running, so a slow server cannot hide its queueing (no coordinated omission);
- closed loop (`--closed`): `--connections` connections each send the next request as soon as the
  previous answer arrives, for `--warmup + --duration` seconds: the server's maximum throughput
  once the connections are enough to keep it busy. The requests are used in turn, again from the
  first when they run out (webhook-ingest does not deduplicate, so a repeat costs it the same).

Requests are either the bodies of a file (one per line, as `bench.e2e` writes them) or
`--synthetic N` distinct Stripe-shaped `checkout.session.completed` events; each is signed as
Stripe signs. The output (JSON) holds, per request answered, the wall-clock time it was due (or
sent, closed loop), the time its answer arrived and its status (0: the connection was lost), so
the caller measures from the scheduled send (HTTP) or from the 2xx (end to end).

`CpuWatch` measures the CPU the servers use meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.payments import signature

ROOT = Path(__file__).resolve().parents[1]
API_VERSION = "2026-10-28.endive"


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def synthetic_event(index: int, now: int, pad: int) -> bytes:
    """A distinct Stripe-shaped `checkout.session.completed` event, indented as Stripe sends it."""
    event = {
        "id": f"evt_bench_{index:08d}_{uuid.uuid4().hex[:8]}",
        "object": "event",
        "api_version": API_VERSION,
        "created": now,
        "data": {
            "object": {
                "id": f"cs_test_{uuid.uuid4().hex}",
                "object": "checkout.session",
                "amount_total": 12999,
                "currency": "usd",
                "customer_email": "payer@example.com",
                "metadata": {"type": "reservation_payment", "reservation_ids": "r1,r2"},
                "mode": "payment",
                "payment_intent": f"pi_{uuid.uuid4().hex[:24]}",
                "payment_status": "paid",
                "status": "complete",
                "pad": "x" * pad,
            }
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "checkout.session.completed",
    }
    return json.dumps(event, indent=2).encode()


def signed_request(body: bytes, secret: str, host: str, now: int) -> bytes:
    """A complete HTTP/1.1 POST of `body` to /webhooks/stripe, signed as Stripe signs."""
    head = (
        f"POST /webhooks/stripe HTTP/1.1\r\nHost: {host}\r\n"
        "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Stripe-Signature: {signature(body, secret, now)}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


# --------------------------------------------------------------------------------------------
# Connections
# --------------------------------------------------------------------------------------------


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
        if not self.busy:
            # Unsolicited: the server's 408 to a connection that sat idle before its first
            # request (then it closes). No request of ours is answered by it.
            return
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
    """Connections up to a cap; requests wait for one in order, their clock already running.

    Each answer is recorded as (due, answered, status) in perf_counter time. With `refill` set
    (closed loop), a connection that got its answer sends refill()'s request at once.
    """

    def __init__(self, host: str, port: int, cap: int) -> None:
        self.host, self.port, self.cap = host, port, cap
        self.idle: list[Conn] = []
        self.count = 0
        self.opening = 0
        self.backlog: deque[tuple[bytes, float]] = deque()
        self.answers: list[tuple[float, float, int]] = []
        self.outstanding = 0
        self.refill: Callable[[], bytes | None] | None = None
        self.loop = asyncio.get_running_loop()

    def submit(self, request: bytes, due: float) -> None:
        self.outstanding += 1
        if self.idle:
            self._send(self.idle.pop(), request, due)
        else:
            self.backlog.append((request, due))
            self._grow()

    def _grow(self) -> None:
        """Open a connection if the cap allows and more requests wait than are being opened."""
        if self.count < self.cap and self.opening < len(self.backlog):
            self.count += 1
            self.opening += 1
            self.loop.create_task(self._open())

    def _send(self, conn: Conn, request: bytes, due: float) -> None:
        """Send on `conn`, or, when the server has closed it (an idle keep-alive timed out) and
        its connection_lost has not run yet, queue the request first in line for another."""
        if conn.closed or conn.transport is None or conn.transport.is_closing():
            self.backlog.appendleft((request, due))
            self._grow()
            return
        conn.send(request, due)

    async def _open(self) -> None:
        try:
            transport, conn = await self.loop.create_connection(
                lambda: Conn(self), self.host, self.port
            )
        except OSError:
            self.count -= 1
            await asyncio.sleep(0.05)
            return
        finally:
            self.opening -= 1
        conn.transport = transport
        self._give(conn)

    def _give(self, conn: Conn) -> None:
        if conn.closed:
            return
        if self.backlog:
            request, due = self.backlog.popleft()
            self._send(conn, request, due)
        else:
            self.idle.append(conn)

    def done(self, conn: Conn, status: int) -> None:
        now = time.perf_counter()
        self.outstanding -= 1
        self.answers.append((conn.due, now, status))
        if conn.closed:
            return
        if self.refill is not None:
            request = self.refill()
            if request is not None:
                self.outstanding += 1
                self._send(conn, request, now)
                return
        self._give(conn)

    def lost(self, conn: Conn) -> None:
        self.count -= 1
        if conn in self.idle:
            self.idle.remove(conn)
        if self.backlog:
            self._grow()


async def _drain(pool: Pool, drain_s: float) -> None:
    deadline = time.perf_counter() + drain_s
    while pool.outstanding and time.perf_counter() < deadline:  # noqa: ASYNC110 - polled drain
        await asyncio.sleep(0.01)


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
    await _drain(pool, drain_s)


async def closed_loop(pool: Pool, requests: list[bytes], seconds: float, *, drain_s: float) -> None:
    """Closed loop: every connection of the pool busy, each sending the next request as soon as
    its answer arrives, for `seconds`; then the answers still outstanding, up to `drain_s`."""
    end = time.perf_counter() + seconds
    order = itertools.cycle(requests)

    def refill() -> bytes | None:
        return next(order) if time.perf_counter() < end else None

    pool.refill = refill
    now = time.perf_counter()
    for _ in range(pool.cap):
        pool.submit(next(order), now)
    await asyncio.sleep(max(0.0, end - time.perf_counter()))
    await _drain(pool, drain_s)


# --------------------------------------------------------------------------------------------
# The load process
# --------------------------------------------------------------------------------------------


async def drive(args: argparse.Namespace) -> dict[str, Any]:
    """Build the requests, send them (open or closed loop), return what was recorded."""
    host, _, port_text = args.url.removeprefix("http://").partition(":")
    port = int(port_text.split("/")[0])
    now = int(time.time())
    if args.bodies:
        bodies = Path(args.bodies).read_bytes().splitlines()  # noqa: ASYNC240 - before the clock
    else:
        bodies = [synthetic_event(i, now, args.body_pad) for i in range(args.synthetic)]
    requests = [signed_request(b, args.secret, f"{host}:{port}", now) for b in bodies]
    pool = Pool(host, port, args.connections)
    wall_offset = time.time() - time.perf_counter()
    cpu_start = time.process_time()
    start = time.perf_counter() + 0.2
    if args.closed:
        await asyncio.sleep(0.2)
        await closed_loop(pool, requests, args.warmup + args.duration, drain_s=args.drain)
    else:
        interval = 1.0 / args.rate
        await send_on_schedule(pool, requests, start, interval, drain_s=args.drain)
    elapsed = time.perf_counter() - start
    return {
        "mode": "closed" if args.closed else "open",
        "start": start + wall_offset,
        "measure_from": start + args.warmup + wall_offset,
        "end": start + (args.warmup + args.duration if args.closed else 0) + wall_offset,
        "offered_rate": None if args.closed else args.rate,
        "requests": len(requests),
        "body_bytes": len(bodies[0]) if bodies else 0,
        # Per request answered, in the order the answers came (wall-clock seconds).
        "due": [d + wall_offset for d, _, _ in pool.answers],
        "answered": [a + wall_offset for _, a, _ in pool.answers],
        "status": [s for _, _, s in pool.answers],
        "unfinished": pool.outstanding,
        "connections": pool.count,
        "load_cpu_percent": round((time.process_time() - cpu_start) / elapsed * 100, 1),
    }


def by_request(answers: dict[str, Any], start: float, rate: float, total: int) -> dict[str, Any]:
    """Open-loop answers put back in request order (request i was due at start + i / rate);
    a request never answered keeps 0.0 times and status 0."""
    due, answered, status = [0.0] * total, [0.0] * total, [0] * total
    for d, a, st in zip(answers["due"], answers["answered"], answers["status"], strict=True):
        i = round((d - start) * rate)
        due[i], answered[i], status[i] = d, a, st
    return {**answers, "due": due, "answered": answered, "status": status}


def run_process(url: str, secret: str, work_dir: Path, *options: str) -> dict[str, Any]:
    """Run the load process with `options` (see the module's usage) and return its JSON."""
    work_dir.mkdir(parents=True, exist_ok=True)
    out_file = work_dir / "answers.json"
    cmd = [
        sys.executable,
        "-m",
        "bench.loadgen",
        "--url",
        url,
        "--secret",
        secret,
        "--out",
        str(out_file),
        *options,
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    subprocess.run(cmd, check=True, cwd=ROOT, env=env, timeout=900)
    return dict(json.loads(out_file.read_text()))


def run(
    url: str,
    secret: str,
    bodies: list[bytes],
    rate: float,
    work_dir: Path,
    *,
    connections: int = 256,
) -> dict[str, Any]:
    """Send `bodies` open-loop at `rate`/s; (due, answered, status) per body, in body order."""
    work_dir.mkdir(parents=True, exist_ok=True)
    bodies_file = work_dir / "bodies.jsonl"
    bodies_file.write_bytes(b"\n".join(bodies))  # bodies hold no newline
    answers = run_process(
        url,
        secret,
        work_dir,
        "--bodies",
        str(bodies_file),
        "--rate",
        str(rate),
        "--connections",
        str(connections),
        "--drain",
        "60",
    )
    return by_request(answers, answers["start"], rate, len(bodies))


class CpuWatch:
    """CPU seconds used by some processes (their children included) across a window."""

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

    def seconds(self) -> dict[str, float]:
        """CPU seconds per process since the start."""
        return {n: self._cpu(p) - self.start[n] for n, p in self.procs.items()}

    def report(self) -> dict[str, float]:
        """Per process, and for the whole machine, % of one CPU over the window."""
        elapsed = time.monotonic() - self.t0
        out = {n: round(s / elapsed * 100, 1) for n, s in self.seconds().items()}
        now = self.psutil.cpu_times()
        busy = sum(
            getattr(now, f) - getattr(self.sys0, f)
            for f in ("user", "nice", "system", "irq", "softirq", "steal")
        )
        out["machine"] = round(busy / elapsed * 100, 1)
        out["others"] = round(out["machine"] - sum(v for k, v in out.items() if k != "machine"), 1)
        return out


def main() -> None:
    """Entry point of the load process."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--out", required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--bodies", help="a file of event bodies, one per line")
    source.add_argument("--synthetic", type=int, help="this many generated events")
    parser.add_argument("--body-pad", type=int, default=1024, help="filler bytes per event")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--rate", type=float, help="open loop: requests per second")
    mode.add_argument("--closed", action="store_true", help="closed loop for warm-up + duration")
    parser.add_argument("--duration", type=float, default=10.0, help="closed loop: seconds")
    parser.add_argument("--warmup", type=float, default=0.0, help="seconds before measuring")
    parser.add_argument("--connections", type=int, default=256, help="connection cap")
    parser.add_argument("--drain", type=float, default=30.0, help="wait for the last answers")
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
