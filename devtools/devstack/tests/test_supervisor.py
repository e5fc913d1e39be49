"""The supervisor behind `devstack up`, on real short-lived child processes."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil

from devstack.ports import wait_until
from devstack.supervisor import Policy, Program, Supervisor

FAST = Policy(backoff_initial_s=0.05, backoff_max_s=0.2, fast_crash_s=5.0, max_fast_crashes=3)


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


LONG = _python("import time\nwhile True: time.sleep(1)")


def _until(sup: Supervisor, predicate: object, what: str, timeout: float = 30.0) -> None:
    def step() -> bool:
        sup.poll()
        return bool(predicate())  # type: ignore[operator]

    wait_until(step, timeout=timeout, what=what)


def test_a_crashing_process_is_restarted_then_given_up_while_the_rest_keep_running() -> None:
    out = io.StringIO()
    sup = Supervisor(
        [Program("steady", LONG), Program("crashy", _python("exit(3)"))], FAST, out=out
    )
    sup.start()
    steady = sup.pids()["steady"]
    try:
        _until(sup, lambda: sup.gave_up("crashy"), "crashy given up")
        assert sup.children["crashy"].restarts == FAST.max_fast_crashes - 1
        assert sup.alive("steady")
        assert sup.pids()["steady"] == steady
        log = out.getvalue()
        assert log.count("crashy exited unexpectedly with code 3") == FAST.max_fast_crashes - 1
        assert "crashy restarted" in log
        assert "gave up after 3 crashes in a row" in log
        assert "the other processes keep running" in log
    finally:
        sup.stop()
    assert not sup.alive("steady")


def test_a_process_that_ran_long_enough_is_restarted_however_often_it_crashes() -> None:
    policy = Policy(backoff_initial_s=0.05, fast_crash_s=0.3, max_fast_crashes=2)
    sup = Supervisor([Program("slow", _python("import time; time.sleep(0.5)"))], policy)
    sup.start()
    try:
        _until(sup, lambda: sup.children["slow"].restarts >= 3, "three restarts")
        assert not sup.gave_up("slow")
    finally:
        sup.stop()


def test_a_killed_process_comes_back_with_a_log_line() -> None:
    out = io.StringIO()
    sup = Supervisor([Program("worker", LONG)], FAST, out=out)
    sup.start()
    first = sup.pids()["worker"]
    assert first is not None
    try:
        os.kill(first, signal.SIGKILL)
        _until(sup, lambda: sup.alive("worker") and sup.pids()["worker"] != first, "restart")
        assert "worker exited unexpectedly with signal SIGKILL" in out.getvalue()
    finally:
        sup.stop()


def test_stop_stops_every_process_last_started_first(tmp_path: Path) -> None:
    order = tmp_path / "order"
    code = f"""
        import signal, sys, time
        def bye(*_):
            with open({str(order)!r}, "a") as f:
                f.write(sys.argv[1] + "\\n")
            sys.exit(0)
        signal.signal(signal.SIGTERM, bye)
        print("up", flush=True)
        while True:
            time.sleep(1)
    """
    names = ["first", "second", "third"]
    out = io.StringIO()
    sup = Supervisor([Program(n, [*_python(code), n]) for n in names], FAST, out=out)
    sup.start()
    wait_until(lambda: out.getvalue().count("| up") == 3, timeout=30, what="all up")
    sup.stop()
    assert order.read_text().split() == list(reversed(names))
    assert all(pid is None for pid in sup.pids().values())


def test_children_die_with_a_supervisor_killed_by_sigkill(tmp_path: Path) -> None:
    """The parent-death signal: nothing the supervisor started outlives it."""
    code = f"""
        import sys
        from devstack.supervisor import Program, Supervisor
        sup = Supervisor([Program("child", {LONG!r})])
        sup.start()
        print("pid", sup.pids()["child"], flush=True)
        sup.run()
    """
    parent = subprocess.Popen(_python(code), stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        child = int(line.split()[-1])
        assert psutil.pid_exists(child)
        parent.kill()
        parent.wait(timeout=10)

        def gone() -> bool:
            try:
                return psutil.Process(child).status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                return True

        wait_until(gone, timeout=20, what="child gone with its parent")
    finally:
        parent.kill()
