"""`python -m bench.soak [--minutes 10]` (`make soak`): payments flow while random faults hit.

A stack of our own (the processes of `make run` on free ports, its own PostgreSQL and broker)
takes a steady stream of real payments (book, Checkout Session, pay on the Stripe emulator,
webhook, worker, relay, notifier, SMTP) while a fault is injected every few seconds, drawn from:
PostgreSQL stopped or hung (SIGSTOP), the broker hung, SMTP answering 451/421, Stripe answering
503 or holding every answer past the clients' timeouts (still carrying each out), and SIGKILLs of
the reservation worker, the notifier, the relay and webhook-ingest. Then it lets everything
settle and prints the accounting; it exits 1 on any loss, doubling, dead letter or missing
e-mail. Customers try again while the site answers 5xx (a patient stream).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import psycopg

from backbone.settings import KafkaSettings
from contracts.reservation import FactBase, ReservationConfirmedV1
from contracts.topics import NOTIFIER_GROUP, RESERVATION_GROUP, dlq_topic
from devstack.infra import Provided
from devstack.postgres import EmbeddedPostgres
from devstack.running import RunningStack
from devstack.testing import eventually, read_topic, resume, suspend
from tests.e2e.harness import Harness, fact_id
from tests.e2e.stream import Stream

KILLABLE = ("reservation-worker", "notifier", "reservation-relay", "webhook-ingest")
ENV_ALL = {"CONSUMER_TRANSIENT_BACKOFF_MAX_S": "2"}
Fault = tuple[str, Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]


def log(text: str) -> None:
    """Progress on stderr."""
    print(f"[soak {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def faults(h: Harness, pg: EmbeddedPostgres) -> list[Fault]:
    """Every fault as (name, inject, heal)."""

    async def post(part: str, path: str, body: dict[str, object]) -> None:
        answer = await h.http.post(h.url(part, path), json=body)
        answer.raise_for_status()

    async def smtp_heal() -> None:
        (await h.http.delete(h.url("mail-web", "/_sink/faults"))).raise_for_status()

    def kill(name: str) -> Fault:
        async def inject() -> None:
            h.stack.kill(name)

        async def heal() -> None:
            await asyncio.to_thread(h.stack.restart, name, 120.0)

        return (f"SIGKILL {name}", inject, heal)

    async def restart_postgres() -> None:
        await asyncio.to_thread(pg.start)

    broker_pid = h.broker.pid if h.broker is not None else None
    out: list[Fault] = [
        (
            "PostgreSQL stopped",
            lambda: asyncio.to_thread(pg.halt),
            restart_postgres,
        ),
        (
            "PostgreSQL hung",
            lambda: asyncio.to_thread(pg.pause),
            lambda: asyncio.to_thread(pg.resume),
        ),
        (
            "SMTP 451",
            lambda: post("mail-web", "/_sink/faults", {"mode": "reject_all", "code": 451}),
            smtp_heal,
        ),
        (
            "SMTP 421",
            lambda: post("mail-web", "/_sink/faults", {"mode": "reject_all", "code": 421}),
            smtp_heal,
        ),
        (
            "Stripe 503",
            lambda: post(
                "stripe-emulator", "/_emulator/faults", {"api_status": 503, "count": 100_000}
            ),
            lambda: post("stripe-emulator", "/_emulator/faults", {"count": 0}),
        ),
        (
            # Every Stripe call held past the clients' timeouts, and still carried out.
            "Stripe hung",
            lambda: post(
                "stripe-emulator",
                "/_emulator/faults",
                {"api_status": None, "count": None, "delay_seconds": 15},
            ),
            lambda: post("stripe-emulator", "/_emulator/faults", {"count": 0}),
        ),
        *(kill(name) for name in KILLABLE),
    ]
    if broker_pid is not None:
        pid = broker_pid

        async def hang() -> None:
            suspend(pid)

        async def wake() -> None:
            resume(pid)

        out.append(("broker hung", hang, wake))
    return out


async def inject_faults(h: Harness, pg: EmbeddedPostgres, until: float, seed: int) -> list[str]:
    """A random fault every few seconds (on for 1-4 s) until `until`; the names injected."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible fault schedule, not a secret
    menu = faults(h, pg)
    done: list[str] = []
    while time.monotonic() < until:
        name, inject, heal = rng.choice(menu)
        on_for = rng.uniform(1.0, 4.0)
        await inject()
        try:
            await asyncio.sleep(on_for)  # the fault's length is the experiment, not a wait
        finally:
            await heal()
        done.append(name)
        log(f"fault {len(done)}: {name} for {on_for:.1f} s")
        await asyncio.sleep(rng.uniform(0.5, 1.5))
    return done


async def settle(h: Harness, stream: Stream, deadline_s: float) -> dict[str, str]:
    """Wait until every paid reservation is settled (or the deadline); reservation -> status."""
    paid = [p for p in stream.payments if p.paid]
    url = h.stack.config.databases["reservation"]
    deadline = time.monotonic() + deadline_s
    statuses: dict[str, str] = {}
    while True:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            cursor = await conn.execute(
                "SELECT id, status FROM reservations WHERE id = ANY(%s)",
                ([p.reservation_id for p in paid],),
            )
            statuses = {str(row[0]): str(row[1]) for row in await cursor.fetchall()}
        pending = [
            p for p in paid if statuses.get(p.reservation_id) not in ("succeeded", "refunded")
        ]
        if not pending or time.monotonic() > deadline:
            return statuses
        await asyncio.sleep(1.0)


async def mails_settled(
    h: Harness, fact_ids: set[str], deadline_s: float
) -> list[dict[str, object]]:
    """The mailbox once every fact has an e-mail (or the deadline)."""
    deadline = time.monotonic() + deadline_s
    while True:
        mails = await h.messages()
        if {fact_id(m) for m in mails} >= fact_ids or time.monotonic() > deadline:
            return mails
        await asyncio.sleep(1.0)


async def soak(minutes: float, seed: int, work_dir: Path) -> int:
    pg = EmbeddedPostgres.temporary().start()
    postgres = Provided(pg.url, "embedded", embedded_postgres=pg)
    # An embedded origin: the stack starts a broker of its own (one we can SIGSTOP).
    stack = RunningStack.isolated(
        Provided("", "embedded"),
        postgres,
        work_dir,
        env_all=ENV_ALL,
        env={"mail-sink": {"MAIL_SINK_MAX_MESSAGES": "1000000"}},
    )
    try:
        stack.start(timeout=180)
        kafka = KafkaSettings(bootstrap_servers=stack.kafka)
        h = Harness(stack=stack, kafka=kafka, broker=stack.broker, work_dir=work_dir)
        log(f"stack up in {work_dir}; {minutes} min of payments and faults (seed {seed})")
        stream = Stream(h, patience_s=600)
        runner = asyncio.create_task(stream.run())
        injected = await inject_faults(h, pg, time.monotonic() + minutes * 60, seed)
        await stream.stop()
        await runner
        log(f"{len(injected)} faults; settling")
        await eventually(h.deliveries_settled, timeout=600, interval=1.0, what="webhooks")
        statuses = await settle(h, stream, 300)
        facts = await h.facts()
        fact_ids = {str(f.event_id) for f in facts}
        mails = await mails_settled(h, fact_ids, 180)
        dead = [
            r
            for g in (RESERVATION_GROUP, NOTIFIER_GROUP)
            for r in await read_topic(kafka, dlq_topic(g))
        ]
        return report(stream, injected, statuses, facts, mails, len(dead))
    finally:
        stack.stop()
        pg.stop()


def report(  # noqa: PLR0917 - one call site, every figure of the accounting
    stream: Stream,
    injected: list[str],
    statuses: dict[str, str],
    facts: Sequence[FactBase],
    mails: list[dict[str, object]],
    dead_letters: int,
) -> int:
    """Print the accounting; 0 when nothing was lost, doubled, dead-lettered or left unmailed."""
    paid = [p for p in stream.payments if p.paid]
    confirmed_facts = Counter(
        f.reservation_id for f in facts if isinstance(f, ReservationConfirmedV1)
    )
    confirmed = sum(statuses.get(p.reservation_id) == "succeeded" for p in paid)
    refunded = sum(statuses.get(p.reservation_id) == "refunded" for p in paid)
    lost = len(paid) - confirmed - refunded
    doubled = sum(1 for n in confirmed_facts.values() if n > 1)
    fact_ids = {str(getattr(f, "event_id", "")) for f in facts}
    by_fact = Counter(fact_id(m) for m in mails)
    missing = len(fact_ids - set(by_fact))
    extra = sum(n - 1 for n in by_fact.values()) + sum(
        n for k, n in by_fact.items() if k not in fact_ids
    )
    kinds = Counter(injected)
    print("soak accounting")
    listed = ", ".join(f"{k} x{n}" for k, n in kinds.most_common())
    print(f"  faults injected:   {len(injected)} ({listed})")
    gave_up = len(stream.errors)
    print(f"  payments started:  {len(stream.payments)} (paid {len(paid)}, gave up {gave_up})")
    print(f"  confirmed:         {confirmed}")
    print(f"  refunded:          {refunded}")
    print(f"  dead-lettered:     {dead_letters}")
    print(f"  lost:              {lost}")
    print(f"  doubled:           {doubled}")
    print(f"  e-mails:           facts {len(fact_ids)}, missing {missing}, extra {extra}")
    failed = lost or doubled or dead_letters or missing
    print("  result:            " + ("FAILED" if failed else "ok"))
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="how long payments flow")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time())
    work_dir = Path(tempfile.mkdtemp(prefix="soak-"))
    return asyncio.run(soak(args.minutes, seed, work_dir))


if __name__ == "__main__":
    sys.exit(main())
