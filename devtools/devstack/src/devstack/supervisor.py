"""A small process supervisor: restarts a crashed child with backoff, stops all in reverse order.

`devstack up` runs every process of the stack under it (honcho stopped everything when one
process exited, the in-memory broker with it). Children are started in sessions of their own,
so a Ctrl-C reaches only the supervisor, which stops them one by one; and each gets a
parent-death signal, so a supervisor killed with SIGKILL leaves none of them running.
The signal is tied to the thread that forked the child: call `start` and `poll` from one
long-lived thread (the main thread in `devstack up`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

_PR_SET_PDEATHSIG = 1
# Resolved once in the parent: between fork and exec the child must only call, never load.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that SIGKILLs the child when the thread that started it dies (Linux)."""
    if _prctl is None:
        return None
    parent = os.getpid()
    prctl = _prctl

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return preexec


@dataclass(frozen=True)
class Policy:
    """When to restart and when to give up."""

    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    fast_crash_s: float = 10.0  # a run shorter than this counts as a fast crash
    max_fast_crashes: int = 5  # in a row; then the process is given up
    stop_timeout_s: float = 15.0  # SIGTERM, then SIGKILL after this long


@dataclass(frozen=True)
class Program:
    """One supervised command."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _Child:
    program: Program
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    fast_crashes: int = 0
    restarts: int = 0
    restart_at: float | None = None
    gave_up: bool = False


class Supervisor:
    """Runs `programs` in order; `poll()` reaps and restarts; `stop()` stops all, last first."""

    def __init__(
        self,
        programs: Sequence[Program],
        policy: Policy | None = None,
        *,
        out: IO[str] | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.policy = policy or Policy()
        self.children = {p.name: _Child(p) for p in programs}
        self._out = out or sys.stdout
        self._lock = threading.Lock()
        self._on_change = on_change or (lambda: None)
        self._width = max((len(p.name) for p in programs), default=0)

    def say(self, name: str, line: str) -> None:
        """One line of output, prefixed with the process name (thread-safe)."""
        with self._lock:
            self._out.write(f"{name.ljust(self._width)} | {line}\n")
            self._out.flush()

    def pids(self) -> dict[str, int | None]:
        """Each process's pid, None while it is down."""
        return {n: c.proc.pid if c.proc else None for n, c in self.children.items()}

    def alive(self, name: str) -> bool:
        """Whether the process runs right now."""
        proc = self.children[name].proc
        return proc is not None and proc.poll() is None

    def gave_up(self, name: str) -> bool:
        """Whether the supervisor stopped restarting it."""
        return self.children[name].gave_up

    def start(self) -> None:
        """Start every program, in order."""
        for child in self.children.values():
            self._launch(child)
        self._on_change()

    def _launch(self, child: _Child) -> None:
        program = child.program
        child.proc = subprocess.Popen(
            list(program.argv),
            env={**os.environ, **program.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a terminal's Ctrl-C reaches the supervisor only
            preexec_fn=die_with_parent(),  # noqa: PLW1509 - prctl only, resolved beforehand
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        stream = child.proc.stdout
        assert stream is not None
        threading.Thread(target=self._pump, args=(program.name, stream), daemon=True).start()

    def _pump(self, name: str, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self.say(name, raw.decode(errors="replace").rstrip("\n"))
        stream.close()

    def poll(self) -> None:
        """Reap children that exited and restart those whose backoff has passed."""
        now = time.monotonic()
        changed = False
        for name, child in self.children.items():
            if child.proc is not None and child.proc.poll() is not None:
                self._exited(name, child, child.proc.returncode, now)
                changed = True
            elif child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._launch(child)
                assert child.proc is not None
                self.say(
                    "devstack", f"{name} restarted (pid {child.proc.pid}, restart {child.restarts})"
                )
                changed = True
        if changed:
            self._on_change()

    def _exited(self, name: str, child: _Child, code: int, now: float) -> None:
        ran = now - child.started_at
        child.proc = None
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"code {code}"
        policy = self.policy
        child.fast_crashes = child.fast_crashes + 1 if ran < policy.fast_crash_s else 0
        if child.fast_crashes >= policy.max_fast_crashes:
            child.gave_up = True
            self.say(
                "devstack",
                f"{name} exited with {how}; gave up after {child.fast_crashes} crashes in a row"
                f" within {policy.fast_crash_s:g}s of starting (its output is above); the other"
                " processes keep running, Ctrl-C stops them",
            )
            return
        delay = min(policy.backoff_initial_s * 2**child.fast_crashes, policy.backoff_max_s)
        child.restart_at = now + delay
        self.say(
            "devstack",
            f"{name} exited unexpectedly with {how} after {ran:.1f}s; restarting in {delay:g}s",
        )

    def run(self, interval: float = 0.2, step: Callable[[], None] | None = None) -> None:
        """`poll()` (then `step()`) every `interval` seconds until interrupted."""
        while True:
            self.poll()
            if step is not None:
                step()
            time.sleep(interval)

    def stop(self) -> None:
        """Stop every process, the last started first: SIGTERM, then SIGKILL after a timeout."""
        for name, child in reversed(list(self.children.items())):
            child.restart_at = None
            proc, child.proc = child.proc, None
            if proc is None or proc.poll() is not None:
                continue
            self.say("devstack", f"stopping {name}")
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=self.policy.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self.say("devstack", f"{name} did not stop in time: SIGKILL")
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        self._on_change()


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signum)
