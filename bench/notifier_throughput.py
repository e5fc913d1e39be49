"""Notifier throughput: e-mails per second to the development SMTP server (the mail sink).

A backlog of ReservationConfirmedV1 facts is put on reservation.events (with the relay's key and
headers) while the notifier is stopped; then `python -m notifier worker` starts and drains it
into the mail sink (its own process, as in `make run`) over NOTIFIER_SMTP_CONNECTIONS
conversations. The rate is e-mails marked sent per second between the first and the last mark
(start-up and the group join excluded, and reported apart as the wall time from start to done).
The parts are a stack of our own: an embedded broker and a durable embedded PostgreSQL, as
`make run`'s.

    python -m bench.notifier_throughput --emails 20000 --connections 1,4

With `--processes N`, N notifier processes (one consumer group, the topic's partitions split
between them) drain the same backlog, each with its own SMTP connections and its own budget of
unmarked sends: what scaling the notifier out on this machine buys.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from backbone.kafka import OutgoingRecord, Producer
from backbone.settings import KafkaSettings
from bench import profiling
from bench.stack import MAIL_SINK_MAX_MESSAGES, mail_total
from bench.stats import cpu_watch, load_text
from contracts import headers as h
from contracts.reservation import ReservationConfirmedV1
from contracts.topics import RESERVATION_EVENTS
from devstack.infra import Provided, provide_kafka, provide_postgres
from devstack.ports import free_port
from devstack.running import RunningStack

STARTS = datetime(2030, 5, 17, 14, 0, tzinfo=UTC)


def _facts(count: int, tag: str) -> list[ReservationConfirmedV1]:
    return [
        ReservationConfirmedV1(
            event_id=uuid.uuid4(),
            occurred_at=datetime.now(UTC),
            correlation_id=f"req_{tag}_{n}",
            user_id=f"user_{n}",
            user_email=f"u{n}-{tag}@bench.test",
            reservation_id=f"res-{tag}-{n}",
            service_name="Mixing",
            starts_at=STARTS + timedelta(hours=n % 1000),
            ends_at=STARTS + timedelta(hours=n % 1000 + 2),
            amount_paid=15000,
            currency="eur",
            reference=f"RSV-{n:06d}",
            session_id=f"cs_bench_{tag}_{n}",
        )
        for n in range(count)
    ]


async def _enqueue(kafka: str, facts: list[ReservationConfirmedV1]) -> None:
    producer = Producer(KafkaSettings(bootstrap_servers=kafka), client_id="bench-notifier")
    await producer.start()
    try:
        for at in range(0, len(facts), 1000):
            await producer.send_many(
                [
                    OutgoingRecord(
                        RESERVATION_EVENTS,
                        fact.model_dump_json().encode(),
                        fact.partition_key().encode(),
                        [
                            (h.EVENT_ID, str(fact.event_id).encode()),
                            (h.EVENT_TYPE, fact.event_type.encode()),
                        ],
                    )
                    for fact in facts[at : at + 1000]
                ]
            )
    finally:
        await producer.stop()


def _progress(database_url: str, tag: str) -> tuple[int, float | None, float | None]:
    """This run's e-mails marked sent, and the first and last mark (Unix time)."""
    with psycopg.connect(database_url) as conn:
        if conn.execute("SELECT to_regclass('notifications')").fetchone() == (None,):
            return 0, None, None
        row = conn.execute(
            "SELECT count(*), extract(epoch FROM min(sent_at)), extract(epoch FROM max(sent_at))"
            " FROM notifications WHERE status = 'sent' AND recipient LIKE %s",
            (f"%-{tag}@bench.test",),
        ).fetchone()
    assert row is not None
    return int(row[0]), row[1] and float(row[1]), row[2] and float(row[2])


def _notifiers(stack: RunningStack, processes: int, connections: int) -> list[str]:
    """Declare `processes` notifier processes with `connections` SMTP connections each: the
    first is the stack's own, the others copies with their own state directory and port."""
    spec = stack.specs["notifier"]
    env = {**spec.env, "NOTIFIER_SMTP_CONNECTIONS": str(connections)}
    stack.specs["notifier"] = dataclasses.replace(spec, env=env)
    names = ["notifier"]
    for n in range(2, processes + 1):
        name, port = f"notifier-{n}", free_port()
        copy = {
            **env,
            "NOTIFIER_DATA_DIR": str(stack.work_dir / f"faust-{name}"),
            "NOTIFIER_HTTP_PORT": str(port),
        }
        health = f"http://127.0.0.1:{port}/healthz"
        stack.specs[name] = dataclasses.replace(spec, name=name, env=copy, health=health)
        names.append(name)
    return names


def run_once(
    stack: RunningStack,
    pids: dict[str, int],
    emails: int,
    connections: int,
    timeout_s: float,
    *,
    processes: int = 1,
    profile_s: float = 0.0,
) -> dict[str, Any]:
    """One drain of `emails` facts by `processes` notifiers with `connections` SMTP connections
    each."""
    for name, running in list(stack.children.items()):
        if name.startswith("notifier"):
            running.terminate()
    database_url = stack.config.databases["notifier"]
    tag = uuid.uuid4().hex[:8]
    mails_before = mail_total(stack.url("mail-web"))
    asyncio.run(_enqueue(stack.kafka, _facts(emails, tag)))
    names = _notifiers(stack, processes, connections)
    load_before = load_text()
    started = time.time()
    children = [stack.start_process(name) for name in names]
    notifier_pids = {}
    for name, started_child in zip(names, children, strict=True):
        assert started_child.proc is not None
        notifier_pids[name] = started_child.proc.pid
    cpu = cpu_watch({**pids, **notifier_pids})
    deadline = time.monotonic() + timeout_s
    done, first, last = _progress(database_url, tag)
    profile = None
    if profile_s:
        while done == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
            done, first, last = _progress(database_url, tag)
        out = stack.work_dir / "profile" / f"notifier-{connections}c"
        profile = profiling.record(notifier_pids["notifier"], profile_s, out)
    while done < emails and time.monotonic() < deadline:
        time.sleep(0.5)
        done, first, last = _progress(database_url, tag)
    finished = time.time()
    usage = cpu.report()
    for started_child in children:
        started_child.terminate()
    span = (last - first) if first is not None and last is not None else 0.0
    return {
        "processes": processes,
        "connections": connections,
        "emails": emails,
        "sent": done,
        "mails_received": mail_total(stack.url("mail-web")) - mails_before,
        "emails_per_s": round((done - 1) / span, 1) if span > 0 else None,
        "wall_start_to_done_s": round(finished - started, 1),
        "cpu_percent": usage,
        "load_before": load_before,
        "profile": profile,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=20_000)
    parser.add_argument(
        "--connections", default="1,4", help="NOTIFIER_SMTP_CONNECTIONS values, one run each"
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat the whole list")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--profile", type=float, default=0.0, help="py-spy the notifier (s)")
    parser.add_argument(
        "--processes", type=int, default=1, help="notifier processes sharing the consumer group"
    )
    args = parser.parse_args()
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-notifier-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    infra: list[Provided] = []
    stack = None
    try:
        kafka = provide_kafka(port=0, log_file=work_dir / "broker.log")
        infra.append(kafka)
        # A durable server like `make run`'s (not the test sessions' fsync-off throwaway).
        pg = provide_postgres(data_dir=work_dir / "postgres")
        infra.append(pg)
        stack = RunningStack(kafka.address, pg.address, work_dir / "stack")
        stack.create_topics()
        sink = stack.specs["mail-sink"]
        stack.specs["mail-sink"] = dataclasses.replace(
            sink, env={**sink.env, "MAIL_SINK_MAX_MESSAGES": MAIL_SINK_MAX_MESSAGES}
        )
        notifier = stack.specs["notifier"]
        stack.specs["notifier"] = dataclasses.replace(
            notifier, args=("worker", "-l", "warn"), env={**notifier.env, "LOG_LEVEL": "warning"}
        )
        stack.start_process("mail-sink")
        stack.wait_healthy(60, only=["mail-sink"])
        pids: dict[str, int] = {}
        sink_proc = stack.children["mail-sink"].proc
        if sink_proc is not None:
            pids["mail-sink"] = sink_proc.pid
        if kafka.embedded_broker is not None and kafka.embedded_broker.pid:
            pids["broker"] = kafka.embedded_broker.pid
        if pg.embedded_postgres is not None:
            pid_file = pg.embedded_postgres.data_dir / "postmaster.pid"
            pids["postgres"] = int(pid_file.read_text().split()[0])
        connections = [int(c) for c in args.connections.split(",")]
        for _ in range(args.rounds):
            for k in connections:
                result = run_once(
                    stack,
                    pids,
                    args.emails,
                    k,
                    args.timeout,
                    processes=args.processes,
                    profile_s=args.profile,
                )
                print(json.dumps(result), flush=True)
    finally:
        if stack is not None:
            stack.stop()
        for provided in reversed(infra):
            provided.stop()


if __name__ == "__main__":
    main()
