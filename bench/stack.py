"""The system under test: a RunningStack of our own (the default), or `make run`'s (--target)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from backbone.kafka import ensure_topics
from backbone.settings import KafkaSettings
from devstack.infra import Provided, provide_kafka, provide_postgres
from devstack.ports import free_port
from devstack.running import RunningStack
from devstack.stack import PORTS
from devstack.testing import read_topic

# The mail sink keeps 500 messages by default; a run sends tens of thousands.
MAIL_SINK_MAX_MESSAGES = "1000000"


@dataclass
class System:
    """Addresses of the parts a benchmark drives and reads, and (own stack) its processes."""

    ingest_url: str
    secret: str
    reservation_db: str
    mail_url: str
    kafka: str
    stack: RunningStack | None = None
    infra: list[Provided] = field(default_factory=list)

    @property
    def controllable(self) -> bool:
        """Whether processes can be stopped and started (only in a stack of our own)."""
        return self.stack is not None

    def pids(self) -> dict[str, int]:
        """Process ids by name, for CPU accounting (own stack only)."""
        if self.stack is None:
            return {}
        out = {
            name: child.proc.pid
            for name, child in self.stack.children.items()
            if child.alive and child.proc is not None
        }
        for provided in self.infra:
            if provided.embedded_broker is not None and provided.embedded_broker.pid:
                out["broker"] = provided.embedded_broker.pid
            if provided.embedded_postgres is not None and (
                pids := provided.embedded_postgres.pids()
            ):
                out["postgres"] = pids[0]  # the postmaster; CpuWatch adds its backends
        return out

    def add_worker(self, name: str) -> None:
        """Declare another reservation worker process (same group, own Faust directory)."""
        assert self.stack is not None
        spec = self.stack.specs["reservation-worker"]
        env = {**spec.env, "RESERVATION_DATA_DIR": str(self.stack.work_dir / f"faust-{name}")}
        if "RESERVATION_WORKER_METRICS_PORT" in env:  # one port per process
            env["RESERVATION_WORKER_METRICS_PORT"] = str(free_port())
        self.stack.specs[name] = dataclasses.replace(spec, name=name, env=env)

    def stop(self) -> None:
        """Stop what we started."""
        if self.stack is not None:
            self.stack.stop()
        for provided in reversed(self.infra):
            provided.stop()
            if provided.embedded_postgres is not None:
                # Gigabytes after a full run; the logs and results stay.
                shutil.rmtree(provided.embedded_postgres.data_dir, ignore_errors=True)


def own(work_dir: Path) -> System:
    """Start the infrastructure and every process of `make run`, on free ports."""
    kafka = provide_kafka(port=0, log_file=work_dir / "broker.log")
    infra = [kafka]
    try:
        # A durable server like `make run`'s (not the test sessions' fsync-off throwaway).
        pg = provide_postgres(data_dir=work_dir / "postgres")
        infra.append(pg)
        asyncio.run(ensure_topics(KafkaSettings(bootstrap_servers=kafka.address)))
        stack = RunningStack(kafka.address, pg.address, work_dir / "stack")
        sink = stack.specs["mail-sink"]
        stack.specs["mail-sink"] = dataclasses.replace(
            sink, env={**sink.env, "MAIL_SINK_MAX_MESSAGES": MAIL_SINK_MAX_MESSAGES}
        )
        system = System(
            ingest_url=stack.url("webhook-ingest"),
            secret=stack.config.webhook_secret,
            reservation_db=stack.config.databases["reservation"],
            mail_url=stack.url("mail-web"),
            kafka=kafka.address,
            stack=stack,
            infra=infra,
        )
        stack.start(timeout=120)
    except BaseException:
        for provided in reversed(infra):
            provided.stop()
        raise
    return system


def target(reservation_db: str, data_dir: Path = Path(".data")) -> System:
    """`make run`'s stack on the development ports (its PostgreSQL port is printed at start)."""
    secret = os.environ.get("STRIPE_WEBHOOK_SECRET") or (data_dir / "webhook-secret").read_text()
    return System(
        ingest_url=f"http://127.0.0.1:{PORTS['webhook-ingest']}",
        secret=secret.strip(),
        reservation_db=reservation_db,
        mail_url=f"http://127.0.0.1:{PORTS['mail-web']}",
        kafka=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{PORTS['broker']}"),
    )


MAIL_PAGE = 10_000


def mail_received(mail_url: str, addresses: set[str]) -> dict[str, float]:
    """recipient -> when the SMTP server accepted the message (Unix time), for `addresses`.

    Read newest first, a page at a time, until every address is found or the pages reach mail
    older than this run's (a page with none of its addresses after one with some): the sink
    keeps every earlier run's mail too, 190,000 messages by the curve's 8x step, and listing
    them all at once outlasts any timeout.
    """
    out: dict[str, float] = {}
    start = 0
    with httpx.Client(timeout=60) as client:
        while len(out) < len(addresses):
            page: dict[str, Any] = client.get(
                f"{mail_url}/api/v1/messages", params={"start": start, "limit": MAIL_PAGE}
            ).json()
            messages = page.get("messages", [])
            found_before = len(out)
            for message in messages:
                for to in message.get("To") or []:
                    address = to.get("Address", "")
                    if address in addresses:
                        created = datetime.fromisoformat(message["Created"].replace("Z", "+00:00"))
                        out[address] = min(out.get(address, float("inf")), created.timestamp())
            if len(messages) < MAIL_PAGE or (found_before and len(out) == found_before):
                break
            start += MAIL_PAGE
    return out


def mail_total(mail_url: str) -> int:
    """How many messages the sink holds."""
    with httpx.Client(timeout=10) as client:
        return int(client.get(f"{mail_url}/api/v1/messages?limit=1").json().get("total", 0))


def keys_on(kafka: str, topic: str, keys: set[bytes]) -> int:
    """How many records on `topic` carry one of `keys`."""
    records = asyncio.run(read_topic(KafkaSettings(bootstrap_servers=kafka), topic))
    return sum(1 for r in records if r.key in keys)
