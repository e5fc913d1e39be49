"""Helpers for tests on real parts: polling with a deadline, reading topics, child processes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from backbone.kafka import Message, high_watermarks, partitions_of, read_between, reader
from backbone.settings import KafkaSettings

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code, even inside a running event loop.

    Synchronous fixtures may run while a loop is running in this thread (Playwright's sync API
    keeps one): there the coroutine gets a loop of its own in a worker thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def next_turn() -> None:
    """Give the event loop one turn, as waiting for a peer's answer would (other tasks run
    meanwhile): a future resolved by the loop's next callback, so no timer is involved."""
    loop = asyncio.get_running_loop()
    turn: asyncio.Future[None] = loop.create_future()
    loop.call_soon(turn.set_result, None)
    await turn


_slots = itertools.count()
SLOT_SPACING_HOURS = 3  # longer than the longest catalog service (two hours)


def distinct_slot(*, days: int, window_hours: int = 2_000) -> datetime:
    """A whole-hour start `days` ahead, apart from every other slot this process handed out.

    Each test gets a database of its own, so slots only need to be distinct within a process.
    Random hours are not: fourteen two-hour bookings among 5,000 random hours overlap in about one
    run in twenty (the birthday problem). This counter does not repeat a slot until
    `window_hours / 3` calls have wrapped it.
    """
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    slots = max(1, window_hours // SLOT_SPACING_HOURS)
    return hour + timedelta(days=days, hours=SLOT_SPACING_HOURS * (next(_slots) % slots))


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    timeout: float = 20.0,
    interval: float = 0.05,
    what: str | Callable[[], str] = "condition",
) -> T:
    """Await `probe` until it returns something truthy; fail after `timeout` seconds.

    `what` names the awaited condition in the failure; a callable is asked only on failure (to
    include, say, a child process's output as it was at the deadline).
    """
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    label = what() if callable(what) else what
    raise AssertionError(f"{label} not reached within {timeout}s (last: {last!r})")


def suspend(pid: int) -> None:
    """SIGSTOP a process (a broker or server that hangs rather than dies)."""
    os.kill(pid, signal.SIGSTOP)


def resume(pid: int) -> None:
    """SIGCONT a process `suspend` stopped."""
    os.kill(pid, signal.SIGCONT)


async def read_topic(settings: KafkaSettings, topic: str) -> list[Message]:
    """Every record currently on `topic`, partition by partition."""
    consumer = reader(settings, "test-reader")
    await consumer.start()
    try:
        tps = await partitions_of(consumer, topic)
        marks = await high_watermarks(consumer, tps)
        return await read_between(consumer, {tp: (0, hw) for tp, hw in marks.items()})
    finally:
        await consumer.stop()


async def wait_for_records(
    settings: KafkaSettings, topic: str, count: int, *, timeout: float = 20.0
) -> list[Message]:
    """Poll `topic` until it holds at least `count` records; return them all."""

    async def probe() -> list[Message]:
        records = await read_topic(settings, topic)
        return records if len(records) >= count else []

    return await eventually(probe, timeout=timeout, what=f"{count} records on {topic}")


class ChildProcess:
    """A Python child process with its output in a file, killable as a crash would kill it."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        log_path: Path,
        cwd: Path | None = None,
    ) -> None:
        self.args = [sys.executable, *args]
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ChildProcess:
        """Start it (output appended to the log file)."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.args,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                start_new_session=True,
            )
        return self

    @property
    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up, no final commit."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        """What the process has written so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class ServedApp:
    """An ASGI app served by a real uvicorn server on a free local port, inside the test's loop."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1") -> None:
        import uvicorn

        from devstack.ports import free_port

        self.port = free_port(host)
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ServedApp:
        self._task = asyncio.create_task(self.server.serve())

        async def started() -> bool:
            if self._task is not None and self._task.done():
                self._task.result()  # surface a start-up failure
            return bool(self.server.started)

        await eventually(started, timeout=20, what=f"server on {self.url}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=15)
