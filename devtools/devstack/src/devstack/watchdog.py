"""Stops the embedded PostgreSQL and broker when `devstack up` dies without stopping them.

Both sit outside `make run`'s process group (pg_ctl daemonizes the server; the broker gets a
session of its own), so a SIGKILL of that group would leave them running and holding the data
directory and port 9092. The watchdog runs in a session of its own too, polls for its parent,
and once the parent is gone stops what the parent had started. A normal stop ends it first.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil


def spawn(postgres_data: Path | None, broker_pid: int | None) -> subprocess.Popen[bytes]:
    """Start a watchdog for this process."""
    argv = [sys.executable, "-m", "devstack.watchdog", "--parent", str(os.getpid())]
    if postgres_data is not None:
        argv += ["--postgres-data", str(postgres_data)]
    if broker_pid is not None:
        argv += ["--broker-pid", str(broker_pid)]
    return subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL)


def stop(watchdog: subprocess.Popen[bytes]) -> None:
    """End a watchdog whose parent stopped everything itself."""
    watchdog.terminate()
    watchdog.wait(timeout=10)


def postmaster_pid(data_dir: Path) -> int | None:
    """The pid of the PostgreSQL server running on `data_dir`, if one runs."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if psutil.pid_exists(pid) else None


def stop_leftovers(postgres_data: Path | None, broker_pid: int | None) -> list[str]:
    """Stop a broker and a PostgreSQL server of ours; returns what was stopped."""
    stopped = []
    if broker_pid is not None and is_broker(broker_pid):
        os.kill(broker_pid, signal.SIGTERM)
        stopped.append(f"broker (pid {broker_pid})")
    if postgres_data is not None and (pid := postmaster_pid(postgres_data)) is not None:
        os.kill(pid, signal.SIGINT)  # fast shutdown: pg_ctl refuses to run as root
        stopped.append(f"PostgreSQL (pid {pid})")
    return stopped


def is_broker(pid: int) -> bool:
    """Whether `pid` is an embedded Tansu broker (not a reused pid of something else)."""
    try:
        cmdline = psutil.Process(pid).cmdline()
    except psutil.Error:
        return False
    return bool(cmdline) and "tansu" in Path(cmdline[0]).name and "broker" in cmdline


def main(argv: list[str] | None = None) -> int:
    """Poll the parent; once it is gone, stop its PostgreSQL and broker."""
    parser = argparse.ArgumentParser(prog="python -m devstack.watchdog", description=__doc__)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--postgres-data", type=Path)
    parser.add_argument("--broker-pid", type=int)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while os.getppid() == args.parent:
        time.sleep(0.5)
    stopped = stop_leftovers(args.postgres_data, args.broker_pid)
    print(f"devstack watchdog: devstack up (pid {args.parent}) died; stopped {stopped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
