"""What a running `make run` tells other terminals: `.data/devstack.json`, and the commands on it.

`devstack up` writes its pid, ports, databases and every process's environment there. From it
`devstack exec <service> -- <command>` runs an operator command (reconcile, requeue, dlq) with
that service's settings, `devstack stop` stops the stack (or what a killed one left behind),
and the next `devstack up` learns when the previous run started (to republish what its broker
forgot) or that a stack of ours still runs.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from devstack.stack import PORTS
from devstack.watchdog import is_broker, stop_leftovers

STATE_FILE = "devstack.json"
STOP_COMMAND = "make stop"

# Which process's environment an operator command of a service runs with.
SERVICE_PROCESS = {
    "reservation": "reservation-worker",
    "checkout": "checkout",
    "notifier": "notifier",
    "kafka": "webhook-ingest",  # the broker address only (the dlq command)
}


@dataclass
class RunState:
    """One `devstack up`, as written to the state file."""

    pid: int
    started_at: str  # ISO 8601, UTC
    data_dir: str
    kafka: str = ""
    postgres: str = ""
    broker_pid: int | None = None
    ports: dict[str, int] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)
    env: dict[str, dict[str, str]] = field(default_factory=dict)
    pids: dict[str, int | None] = field(default_factory=dict)
    ready: bool = False

    def save(self) -> None:
        """Write the file atomically, readable by its owner only (it holds the webhook secret)."""
        path = Path(self.data_dir) / STATE_FILE
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(self), out, indent=1)
        tmp.replace(path)

    @property
    def running(self) -> bool:
        """Whether the `devstack up` that wrote this still runs."""
        return _is_devstack(self.pid)


def load(data_dir: Path) -> RunState | None:
    """The state file of `data_dir`, if any."""
    try:
        raw: dict[str, Any] = json.loads((data_dir / STATE_FILE).read_text())
        return RunState(**raw)
    except (OSError, ValueError, TypeError):
        return None


def _is_devstack(pid: int) -> bool:
    try:
        cmdline = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False
    return "devstack" in cmdline and " up" in cmdline


def running_elsewhere(data_dir: Path) -> str | None:
    """Why this data directory's stack cannot start: another `devstack up` on it still runs."""
    state = load(data_dir)
    if state is None or state.pid == os.getpid() or not state.running:
        return None
    return (
        f"a `make run` on {data_dir} already runs (pid {state.pid}, started {state.started_at});"
        f" stop it first with: {STOP_COMMAND}"
    )


def stale_broker(port: int) -> int | None:
    """The pid of an embedded broker of ours that still listens on `port` (left behind)."""
    for conn in psutil.net_connections(kind="tcp"):
        listens = conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port
        if listens and conn.pid is not None and is_broker(conn.pid):
            return conn.pid
    return None


def stop(data_dir: Path, timeout: float = 60.0) -> list[str]:
    """Stop the stack on `data_dir`, or what a killed one left running; returns what was stopped."""
    stopped: list[str] = []
    state = load(data_dir)
    if state is not None and state.running:
        os.kill(state.pid, signal.SIGTERM)  # it stops its processes in order, then the rest
        deadline = time.monotonic() + timeout
        while state.running and time.monotonic() < deadline:
            time.sleep(0.2)
        stopped.append(f"devstack up (pid {state.pid})")
    # Its service processes died with it (parent-death signal); these two sit apart.
    port = state.ports.get("broker", PORTS["broker"]) if state else PORTS["broker"]
    broker = stale_broker(port) or (state.broker_pid if state else None)
    return stopped + stop_leftovers(data_dir / "postgres", broker)


def exec_env(data_dir: Path, service: str) -> dict[str, str]:
    """The environment of `service`'s operator commands, from a running stack's state file."""
    state = load(data_dir)
    if state is None or not state.running:
        raise LookupError(f"no `make run` is running on {data_dir}: start one in another terminal")
    process = SERVICE_PROCESS.get(service)
    if process is None or process not in state.env:
        known = ", ".join(sorted(SERVICE_PROCESS))
        raise LookupError(f"unknown service {service!r}: one of {known}")
    env = dict(state.env[process])
    if service == "kafka":
        env = {"KAFKA_BOOTSTRAP_SERVERS": env["KAFKA_BOOTSTRAP_SERVERS"]}
    return env
