"""Fixtures: a mail sink, the notifier's topics and database, and notifier workers as processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from backbone.kafka import ensure_topics
from backbone.settings import KafkaSettings
from contracts.topics import NOTIFIER_GROUP, RESERVATION_EVENTS, dlq_topic, retry_topic
from devstack.ports import free_port
from devstack.testing import ChildProcess
from mail_sink import MailSink

CRASH_WORKER = Path(__file__).parent / "workers" / "crash_after_send.py"


@dataclass
class Stack:
    """One test's notifier: its own group, topics, database, HTTP port and mail sink."""

    kafka: KafkaSettings
    database_url: str
    sink: MailSink
    api: httpx.AsyncClient
    unique: str
    tmp_path: Path
    group: str
    topic: str
    http_port: int
    operator: str
    workers: list[ChildProcess] = field(default_factory=list)

    @property
    def dlq(self) -> str:
        return dlq_topic(self.group)

    def env(self, **overrides: str) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "KAFKA_SESSION_TIMEOUT_MS": "3000",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
            "DATABASE_URL": self.database_url,
            "NOTIFIER_CONSUMER_GROUP": self.group,
            "NOTIFIER_SOURCE_TOPIC": self.topic,
            "NOTIFIER_SMTP_HOST": "127.0.0.1",
            "NOTIFIER_SMTP_PORT": str(self.sink.smtp_port),
            "NOTIFIER_SMTP_TIMEOUT_S": "3",
            "NOTIFIER_HTTP_HOST": "127.0.0.1",
            "NOTIFIER_HTTP_PORT": str(self.http_port),
            "NOTIFIER_DATA_DIR": str(self.tmp_path / "faust"),
            "NOTIFIER_AUTO_MIGRATE": "true",
            "NOTIFIER_OPERATOR_EMAIL": self.operator,
            "NOTIFIER_CHECKOUT_URL": "http://shop.test/checkout",
            "CONSUMER_MAX_ATTEMPTS": "3",
            "CONSUMER_BACKOFF_INITIAL_S": "0.05",
            "CONSUMER_BACKOFF_MAX_S": "0.2",
            "LOG_FORMAT": "json",
            **overrides,
        }

    def start_worker(self, *, crash_after_send: bool = False, **env: str) -> ChildProcess:
        """`python -m notifier worker`, or the crash-test script wrapping the same `run`."""
        n = len(self.workers)
        if crash_after_send:
            args = [str(CRASH_WORKER), "-l", "warn"]
            env = {"CRASH_MARKER": str(self.tmp_path / "crashed"), **env}
        else:
            args = ["-m", "notifier", "worker", "-l", "warn"]
        worker = ChildProcess(args, env=self.env(**env), log_path=self.tmp_path / f"w{n}.log")
        self.workers.append(worker.start())
        return worker

    def output(self) -> str:
        return "\n".join(w.output()[-4000:] for w in self.workers)


@pytest.fixture
async def sink() -> AsyncIterator[MailSink]:
    async with MailSink(smtp_port=0, http_port=0) as running:
        yield running


@pytest.fixture
async def stack(
    kafka_settings: KafkaSettings,
    database_url: str,
    sink: MailSink,
    unique: str,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    # The registry topics are shared by the whole session: each test reads its own facts topic
    # with its own group (so its own retry and dead-letter topics), named after the real ones.
    group, topic = f"{NOTIFIER_GROUP}-{unique}", f"{RESERVATION_EVENTS}-{unique}"
    await ensure_topics(kafka_settings, {topic: 2, retry_topic(group): 2, dlq_topic(group): 2})
    async with httpx.AsyncClient(base_url=sink.http_url, timeout=5.0) as api:
        built = Stack(
            kafka=kafka_settings,
            database_url=database_url,
            sink=sink,
            api=api,
            unique=unique,
            tmp_path=tmp_path,
            group=group,
            topic=topic,
            http_port=free_port(),
            operator=f"ops-{unique}@studio.test",
        )
        try:
            yield built
        finally:
            for worker in built.workers:
                worker.terminate(timeout=10)


@pytest.fixture
def user(unique: str) -> Callable[[str], str]:
    """A unique address per test and role."""

    def make(role: str = "user") -> str:
        return f"{role}-{unique}@example.test"

    return make
