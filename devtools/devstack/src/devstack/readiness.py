"""What `devstack up` prints: a banner at start, a "ready" line once every process answers."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from devstack.infra import Provided
from devstack.runstate import STATE_FILE
from devstack.stack import MAIL_SINK_MAX_MESSAGES, ProcessSpec, StackConfig
from devstack.supervisor import Supervisor

READY = "devstack ready:"


class Readiness:
    """Whether every process lives and answers its health check (those without one: lives)."""

    def __init__(self, specs: Sequence[ProcessSpec], supervisor: Supervisor) -> None:
        self.specs = specs
        self.supervisor = supervisor
        self._client = httpx.Client(timeout=0.5)

    def check(self) -> bool:
        """True once all of them do; one pass, a short timeout per health URL."""
        for spec in self.specs:
            if not self.supervisor.alive(spec.name):
                return False
            if spec.health is not None and not _answers(self._client, spec.health):
                return False
        return True


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def _table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


def banner(
    config: StackConfig, pg: Provided, kafka: Provided, names: list[str], repaired: str | None
) -> str:
    """The start-up banner: where things are, what a restart loses and what repairs it."""
    rows = [
        ("PostgreSQL", f"{pg.address}  ({pg.origin})"),
        ("broker", f"{kafka.address}  ({kafka.origin})"),
        ("webhook secret", config.webhook_secret),
        ("dev token", "make token USER=<id> EMAIL=<address>"),
        ("data", str(config.data_dir)),
        ("processes", ", ".join(names) or "none (infrastructure only)"),
    ]
    if kafka.origin == "embedded":
        rows.append(
            (
                "restarts",
                "the broker, Stripe emulator and mail sink keep everything in memory, PostgreSQL"
                " keeps its data: each start republishes what the outboxes sent since the"
                " previous start (the services ignore what they already handled); payments left"
                " open at the emulator are lost with it (their holds expire)",
            )
        )
    if repaired:
        rows.append(("this start", repaired))
    return _table(rows) + "\nstarting; a ready line follows once every process answers"


def ready_lines(config: StackConfig, pg: Provided, kafka: Provided, infra_only: bool) -> str:
    """The ready line, then every address and database, and the commands beside the stack."""
    if infra_only:
        rows = [("broker", kafka.address), ("PostgreSQL", pg.address)]
        rows += [(f"database {name}", db) for name, db in config.databases.items()]
        return f"{READY} infrastructure only; Ctrl-C stops it\n{_table(rows)}"
    url = config.url
    rows = [
        ("open", url("checkout", "/checkout")),
        ("checkout", url("checkout")),
        ("webhook-ingest", url("webhook-ingest", "/webhooks/stripe")),
        ("reservation API", url("reservation-api")),
        ("reservation worker", url("reservation-worker-metrics", "/metrics")),
        ("notifier", url("notifier", "/healthz")),
        ("Stripe emulator", url("stripe-emulator")),
        ("SMTP", f"127.0.0.1:{config.ports['smtp']}"),
        (
            "mail web",
            f"{url('mail-web', '/api/v1/messages')}  (keeps the last"
            f" {MAIL_SINK_MAX_MESSAGES} messages)",
        ),
        ("broker", kafka.address),
        ("PostgreSQL", pg.address),
        *((f"database {name}", db) for name, db in config.databases.items()),
        ("operators", "make reconcile SINCE=1h | make requeue SERVICE=reservation SINCE=1h"),
        ("", 'make dlq ARGS="topics" | make stop'),
        ("settings", str(config.data_dir / STATE_FILE)),
    ]
    return f"{READY} every process answers its health check\n{_table(rows)}"
