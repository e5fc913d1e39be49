"""`devstack up|stop|exec`: the whole system on embedded defaults, and the commands beside it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import traceback
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from backbone.kafka import ensure_topics
from backbone.logging import configure_logging
from backbone.settings import KafkaSettings
from devstack import runstate
from devstack.devauth import DevAuth
from devstack.infra import Provided, provide_kafka, provide_postgres
from devstack.ports import free_port, port_open
from devstack.postgres import ensure_database
from devstack.readiness import Readiness, banner, ready_lines
from devstack.repair import requeue_previous_run
from devstack.stack import DATABASES, PORTS, StackConfig, processes, webhook_secret
from devstack.supervisor import Program, Supervisor
from devstack.watchdog import spawn as spawn_watchdog
from devstack.watchdog import stop as stop_watchdog


def _data_dir() -> Path:
    path = Path(os.environ.get("DEVSTACK_DATA_DIR", ".data")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


class StartError(Exception):
    """A start that cannot go on; the message says what to do."""


def up(infra_only: bool, free_ports: bool = False) -> int:
    """Start infrastructure, create topics and databases, then supervise every process."""
    configure_logging("devstack")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the readiness polls, not worth a line
    # SIGTERM (`make stop`, an orchestrator) must stop the embedded parts as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started with SIGINT ignored (`cmd &`)
    data = _data_dir()
    ports = {name: free_port() for name in PORTS} if free_ports else dict(PORTS)
    try:
        with ExitStack() as cleanup:  # a start that fails stops what it had started
            code = _up(cleanup, data, ports, infra_only)
        print("devstack: stopped (processes, broker, PostgreSQL)", flush=True)
        return code
    except StartError as exc:
        print(f"devstack: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    except Exception:
        traceback.print_exc()
        print("devstack: failed; what it had started is stopped", file=sys.stderr, flush=True)
        return 1


def _up(cleanup: ExitStack, data: Path, ports: dict[str, int], infra_only: bool) -> int:
    if reason := runstate.running_elsewhere(data):
        raise StartError(reason)
    if port_open("127.0.0.1", ports["broker"]) and not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pid = runstate.stale_broker(ports["broker"])
        owner = f"an embedded broker left running (pid {pid})" if pid else "another process"
        raise StartError(
            f"port {ports['broker']} is taken by {owner}; stop it with: {runstate.STOP_COMMAND}"
        )
    previous = runstate.load(data)
    state = runstate.RunState(
        pid=os.getpid(), started_at=datetime.now(UTC).isoformat(), data_dir=str(data), ports=ports
    )
    watchdogs: list[subprocess.Popen[bytes]] = []
    # Registered first, so it runs last: it guards every stop below until they are done.
    cleanup.callback(_stop_all, watchdogs)
    pg = provide_postgres(data_dir=data / "postgres")
    cleanup.callback(pg.stop)
    kafka = provide_kafka(port=ports["broker"], log_file=data / "broker.log")
    cleanup.callback(kafka.stop)
    if kafka.embedded_broker is not None or pg.embedded_postgres is not None:
        broker_pid = kafka.embedded_broker.pid if kafka.embedded_broker else None
        pg_data = data / "postgres" if pg.embedded_postgres is not None else None
        watchdogs.append(spawn_watchdog(pg_data, broker_pid))
        state.broker_pid = broker_pid
    asyncio.run(ensure_topics(KafkaSettings(bootstrap_servers=kafka.address)))
    databases = {name: ensure_database(pg.address, name) for name in DATABASES}
    repaired = _repair(previous, kafka, databases)
    auth = DevAuth(data / "dev-auth").ensure()
    config = StackConfig(
        kafka=kafka.address,
        databases=databases,
        webhook_secret=webhook_secret(data, os.environ.get("STRIPE_WEBHOOK_SECRET")),
        data_dir=data,
        jwks_url=auth.jwks_url,
        issuer=auth.issuer,
        ports=ports,
    )
    specs = [] if infra_only else [p for p in processes(config) if p.available]
    state.kafka, state.postgres, state.databases = kafka.address, pg.address, databases
    state.env = {spec.name: spec.env for spec in specs}
    print(banner(config, pg, kafka, [p.name for p in specs], repaired), flush=True)
    programs = [Program(s.name, [sys.executable, "-m", s.module, *s.args], s.env) for s in specs]

    def saved() -> None:
        state.pids = supervisor.pids()
        state.save()

    supervisor = Supervisor(programs, on_change=saved)
    cleanup.callback(supervisor.stop)  # before the infrastructure (callbacks run last first)
    supervisor.start()
    readiness = Readiness(specs, supervisor)

    def step() -> None:
        if not state.ready and readiness.check():
            state.ready = True
            state.save()
            print(ready_lines(config, pg, kafka, infra_only=not specs), flush=True)

    try:
        supervisor.run(step=step)
    except KeyboardInterrupt:
        # A second Ctrl-C must not cut the ordered stop short (each stop has a timeout).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.say("devstack", "stopping every process, then the broker and PostgreSQL")
    return 0


def _repair(
    previous: runstate.RunState | None, kafka: Provided, databases: dict[str, str]
) -> str | None:
    """After an in-memory broker restart: the previous run's sent outbox rows go out again."""
    if kafka.embedded_broker is None or previous is None or not previous.started_at:
        return None
    since = datetime.fromisoformat(previous.started_at)
    counts = asyncio.run(requeue_previous_run(databases, since))
    total = sum(counts.values())
    return f"{total} outbox rows sent since the previous run started ({since:%F %T} UTC) resent"


def _stop_all(watchdogs: list[subprocess.Popen[bytes]]) -> None:
    for watchdog in watchdogs:
        stop_watchdog(watchdog)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `devstack` command."""
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("up", help="start the stack; Ctrl-C stops everything")
    start.add_argument("--infra-only", action="store_true", help="PostgreSQL and broker only")
    start.add_argument(
        "--free-ports", action="store_true", help="free ports instead of the fixed ones (tests)"
    )
    sub.add_parser("stop", help="stop a running stack, or what a killed one left behind")
    run = sub.add_parser("exec", help="run a command with a service's settings from `make run`")
    run.add_argument("service", choices=sorted(runstate.SERVICE_PROCESS))
    run.add_argument("argv", nargs=argparse.REMAINDER, help="-- command [args]")
    args = parser.parse_args(argv)
    if args.command == "up":
        sys.exit(up(infra_only=args.infra_only, free_ports=args.free_ports))
    if args.command == "stop":
        stopped = runstate.stop(_data_dir())
        print("stopped: " + (", ".join(stopped) or "nothing was running"))
        return
    command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not command:
        parser.error("exec needs a command after --")
    try:
        env = runstate.exec_env(_data_dir(), args.service)
    except LookupError as exc:
        sys.exit(f"devstack: {exc}")
    # The workspace's interpreter and scripts (dlq), whether or not the venv is activated.
    bin_dir = str(Path(sys.executable).parent)
    path = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    if command[0] in ("python", "python3"):
        command = [sys.executable, *command[1:]]
    os.execvpe(command[0], command, {**os.environ, **env, "PATH": path})  # noqa: S606


if __name__ == "__main__":
    main()
