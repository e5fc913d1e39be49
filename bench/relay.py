"""Relay catch-up: how many outbox rows one relay process publishes per second, and its CPU.

The reservation relay is stopped, `rows` rows for a topic no one consumes (`bench.relay`, 6
partitions) are written into the reservation outbox in one COPY, and the relay is started: rows
per second between the first and the last `sent_at`, and the relay's CPU per row (/proc). One
relay is active per service (an advisory lock), so this is the ceiling of a service's facts/s
until relays are split by partition (BENCHMARKS.md, "What N payments/s needs").
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import psycopg

from backbone.kafka import ensure_topics
from backbone.settings import KafkaSettings
from bench.stack import System
from bench.stats import CpuSeconds, load_text

RELAY = "reservation-relay"
TOPIC = "bench.relay"
# About the size of a confirmation fact (contracts.reservation), with the headers a fact carries.
VALUE = json.dumps({"type": "bench", "pad": "x" * 600}).encode()
HEADERS = json.dumps([["event-id", "e"], ["correlation-id", "c"], ["fact-type", "bench"]])


def _unsent(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()
    return int(row[0]) if row else 0


def run(system: System, rows: int, *, timeout_s: float) -> dict[str, Any]:
    """One relay catch-up of `rows` rows, bounded by `timeout_s` once the relay started."""
    stack = system.stack
    assert stack is not None, "relay catch-up stops the relay: it needs a stack of its own"
    asyncio.run(ensure_topics(KafkaSettings(bootstrap_servers=system.kafka), {TOPIC: 6}))
    stack.children[RELAY].terminate()
    with psycopg.connect(system.reservation_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM outbox")
        first_id = int(cur.fetchone()[0]) + 1  # type: ignore[index]
        with cur.copy("COPY outbox (topic, key, value, headers) FROM STDIN") as copy:
            for i in range(rows):
                copy.write_row((TOPIC, f"k{i}".encode(), VALUE, HEADERS))
    load_before = load_text()
    started = time.time()
    stack.start_process(RELAY)
    cpu = CpuSeconds({RELAY: stack.children[RELAY].proc.pid})  # type: ignore[union-attr]
    deadline = time.monotonic() + timeout_s
    while _unsent(system.reservation_db) and time.monotonic() < deadline:
        time.sleep(0.5)
    used = cpu.stop()
    with psycopg.connect(system.reservation_db) as conn:
        row = conn.execute(
            "SELECT count(*), extract(epoch FROM min(sent_at)), extract(epoch FROM max(sent_at))"
            " FROM outbox WHERE id >= %s AND topic = %s AND sent_at IS NOT NULL",
            (first_id, TOPIC),
        ).fetchone()
    assert row is not None
    sent, first, last = int(row[0]), float(row[1] or 0), float(row[2] or 0)
    span = last - first
    relay_s = used["seconds"].get(RELAY, 0.0)
    return {
        "rows": rows,
        "sent": sent,
        "rows_per_s": round((sent - 1) / span, 1) if sent > 1 and span > 0 else 0.0,
        "cpu_ms_per_row": round(relay_s * 1000 / sent, 3) if sent else None,
        "relay_cpu_percent": round(relay_s / used["window_s"] * 100, 1),
        "first_sent_after_start_s": round(first - started, 1) if sent else None,
        "load_before": load_before,
    }
