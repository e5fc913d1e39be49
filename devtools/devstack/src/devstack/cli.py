"""`devstack up`: the whole system on embedded defaults (or on addresses from the environment)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from pathlib import Path

from backbone.kafka.admin import ensure_topics
from backbone.logging import configure_logging
from backbone.settings import KafkaSettings
from devstack.devauth import DevAuth
from devstack.infra import Provided, provide_kafka, provide_postgres
from devstack.postgres import ensure_database
from devstack.stack import DATABASES, PORTS, StackConfig, processes, webhook_secret


def _data_dir() -> Path:
    path = Path(os.environ.get("DEVSTACK_DATA_DIR", ".data")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _banner(config: StackConfig, pg: Provided, kafka: Provided, names: list[str]) -> str:
    rows = [
        ("PostgreSQL", f"{pg.address}  ({pg.origin})"),
        ("broker", f"{kafka.address}  ({kafka.origin})"),
        ("Stripe emulator", f"http://127.0.0.1:{config.ports['stripe-emulator']}"),
        (
            "SMTP / mail web",
            f"127.0.0.1:{config.ports['smtp']} / http://127.0.0.1:{config.ports['mail-web']}",
        ),
        ("checkout", f"http://127.0.0.1:{config.ports['checkout']}"),
        ("webhook-ingest", f"http://127.0.0.1:{config.ports['webhook-ingest']}/webhooks/stripe"),
        ("reservation API", f"http://127.0.0.1:{config.ports['reservation-api']}"),
        ("notifier", f"http://127.0.0.1:{config.ports['notifier']}/healthz"),
        ("webhook secret", config.webhook_secret),
        ("dev token", "make token USER=<id> EMAIL=<address>"),
        ("data", str(config.data_dir)),
        ("processes", ", ".join(names) or "none (infrastructure only)"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


def up(infra_only: bool) -> int:
    """Start infrastructure, create topics and databases, then run every process until Ctrl-C."""
    configure_logging("devstack")
    # SIGTERM (an orchestrator, `timeout`) must stop the embedded parts as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    data = _data_dir()
    pg = provide_postgres(data_dir=data / "postgres")
    kafka = provide_kafka(port=PORTS["broker"], log_file=data / "broker.log")
    try:
        asyncio.run(ensure_topics(KafkaSettings(bootstrap_servers=kafka.address)))
        databases = {name: ensure_database(pg.address, name) for name in DATABASES}
        auth = DevAuth(data / "dev-auth").ensure()
        config = StackConfig(
            kafka=kafka.address,
            databases=databases,
            webhook_secret=webhook_secret(data, os.environ.get("STRIPE_WEBHOOK_SECRET")),
            data_dir=data,
            jwks_url=auth.jwks_url,
            issuer=auth.issuer,
        )
        specs = [] if infra_only else [p for p in processes(config) if p.available]
        print(_banner(config, pg, kafka, [p.name for p in specs]), flush=True)
        return _run(specs)
    finally:
        kafka.stop()
        pg.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _run(specs: list) -> int:  # type: ignore[type-arg]
    if not specs:
        print("Infrastructure is up; Ctrl-C stops it.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            return 0
    from honcho.manager import Manager

    manager = Manager()
    for spec in specs:
        manager.add_process(spec.name, spec.command, env={**os.environ, **spec.env})
    manager.loop()
    return int(manager.returncode or 0)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `devstack` command."""
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("up", help="start the stack; Ctrl-C stops everything")
    start.add_argument("--infra-only", action="store_true", help="PostgreSQL and broker only")
    args = parser.parse_args(argv)
    if args.command == "up":
        sys.exit(up(infra_only=args.infra_only))


if __name__ == "__main__":
    main()
