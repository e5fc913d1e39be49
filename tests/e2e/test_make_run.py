"""`make run` as a person uses it: `devstack up` (the same code path), on free ports and a temp dir.

One stack for the module. Its operator commands run as the README writes them (the make
targets); each long-running process is SIGKILLed in turn while payments flow and comes back by
itself; a second `devstack up` on the same data is refused; a SIGKILL of the whole process group
leaves nothing running; the next start republishes what the in-memory broker forgot.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import psutil
import pytest

from backbone.settings import KafkaSettings
from contracts.reservation import ReservationConfirmedV1
from devstack import runstate
from devstack.devauth import DevAuth
from devstack.ports import wait_until
from devstack.readiness import READY
from devstack.running import RunningStack
from devstack.testing import eventually
from devstack.watchdog import postmaster_pid

from .harness import Harness, fact_id
from .stream import Stream, mail_snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DevstackUp:
    """One `devstack up --free-ports` child process on `data_dir`, seen through its state file."""

    data_dir: Path
    runs: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    @property
    def env(self) -> dict[str, str]:
        drop = ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "STRIPE_WEBHOOK_SECRET")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        return {**env, "DEVSTACK_DATA_DIR": str(self.data_dir), "DEVSTACK_NO_CONTAINERS": "1"}

    def start(self) -> None:
        self.runs += 1
        self.log = self.data_dir.parent / f"devstack-up-{self.runs}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "devstack.cli", "up", "--free-ports"],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, as a terminal gives `make run`
            )

        def ready() -> bool:
            assert self.proc.poll() is None, f"devstack up exited:\n{self.output()[-4000:]}"
            return READY in self.output()

        try:
            wait_until(ready, timeout=240, what="devstack ready", interval=0.5)
        except TimeoutError as exc:
            raise AssertionError(f"not ready:\n{self.output()[-4000:]}") from exc

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def state(self) -> runstate.RunState:
        state = runstate.load(self.data_dir)
        assert state is not None
        return state

    # what Harness needs of a stack
    def url(self, part: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.state.ports[part]}{path}"

    def token(self, user_id: str, email: str) -> str:
        return DevAuth(self.data_dir / "dev-auth").ensure().issue_token(user_id, email)

    @property
    def config(self) -> Any:
        return SimpleNamespace(databases=self.state.databases)

    def logs(self) -> dict[str, str]:
        return {"devstack up": self.output()}

    def harness(self) -> Harness:
        kafka = KafkaSettings(bootstrap_servers=self.state.kafka)
        # Harness types its stack as RunningStack; it only calls what this class offers.
        stack = cast(RunningStack, self)
        return Harness(stack=stack, kafka=kafka, broker=None, work_dir=self.data_dir)

    def everything(self) -> list[int]:
        """Pids of every process the stack started: services, broker, PostgreSQL."""
        state = self.state
        pids = [p for p in state.pids.values() if p is not None]
        pg = postmaster_pid(self.data_dir / "postgres")
        return pids + [p for p in (state.broker_pid, pg) if p is not None]

    def make(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("make", "--no-print-directory", *args)

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """A command as the README writes it, from the repository root."""
        return subprocess.run(
            list(argv),
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(scope="module")
def devstack_up() -> Any:
    # Not under pytest's temp root: every new pytest session makes that private again (0700),
    # and PostgreSQL, running as its own user when we are root, would lose its data directory.
    root = Path(tempfile.mkdtemp(prefix="devstack-make-run-"))
    root.chmod(0o755)
    up = DevstackUp(root / "data")
    try:
        up.start()
        yield up
    finally:
        if up.proc is not None and up.proc.poll() is None:
            up.proc.terminate()
            up.proc.wait(timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def test_readme_operator_commands_run_beside_it(devstack_up: DevstackUp) -> None:
    up = devstack_up
    ready = up.output().split(READY, 1)[1]
    for part in ("checkout", "reservation-worker-metrics", "notifier", "mail-web", "smtp"):
        assert f"127.0.0.1:{up.state.ports[part]}" in ready, part
    assert f"{up.url('checkout')}/checkout" in ready
    assert all(url in ready for url in up.state.databases.values())
    # Every server of the stack listens on loopback only.
    for name, pid in up.state.pids.items():
        assert pid is not None, name
        listening = [
            c.laddr
            for c in psutil.Process(pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        assert all(addr.ip == "127.0.0.1" for addr in listening), (name, listening)
    devstack = str(ROOT / ".venv/bin/devstack")
    for argv, expect in [
        (["make", "reconcile", "SINCE=1h"], "mismatch"),
        (["make", "requeue", "SERVICE=reservation", "SINCE=1h"], "outbox rows go out again"),
        (["make", "requeue", "SERVICE=checkout", "SINCE=1h", "ARGS=--dry-run"], "would go"),
        (["make", "dlq", "ARGS=topics"], "notifier.dlq"),
        ([devstack, "exec", "checkout", "--", "python", "-m", "checkout", "migrate"], ""),
        ([devstack, "exec", "reservation", "--", "python", "-m", "reservation", "migrate"], ""),
        ([devstack, "exec", "notifier", "--", "python", "-m", "notifier", "migrate"], ""),
    ]:
        done = up.run(*argv)
        assert done.returncode == 0, f"{argv}:\n{done.stdout}\n{done.stderr}"
        assert expect in done.stdout, f"{argv}:\n{done.stdout}"


async def test_each_process_killed_comes_back_by_itself(devstack_up: DevstackUp) -> None:
    up, h = devstack_up, devstack_up.harness()
    kept_mail: list[dict[str, Any]] = []

    async def kill_and_see_it_back(name: str) -> None:
        pid = up.state.pids[name]
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)

        async def back() -> bool:
            new = up.state.pids[name]
            return new not in (None, pid) and f"{name} restarted" in up.output()

        await eventually(back, timeout=60, interval=0.2, what=f"{name} restarted")

    # The consumers, the relay and ingest, while payments flow.
    stream = Stream(h)
    runner = asyncio.create_task(stream.run())
    try:
        await stream.started_since(0)
        for name in ("reservation-worker", "notifier", "reservation-relay", "webhook-ingest"):
            await kill_and_see_it_back(name)
            await stream.started_since(len(stream.payments))
    finally:
        await stream.stop()
        await runner
    # The HTTP front ends and the development tools, between payments (the tools keep their
    # state in memory: the emulator once its webhooks are out, the sink once read and closed).
    await eventually(h.deliveries_settled, timeout=120, interval=0.5, what="webhooks delivered")
    for name in ("reservation-api", "checkout", "stripe-emulator"):
        await kill_and_see_it_back(name)
    response = await h.http.post(
        h.url("mail-web", "/_sink/faults"),
        json={"mode": "reject_all", "code": 451, "stage": "data"},
    )
    assert response.status_code == 200, response.text
    kept_mail += await mail_snapshot(h)
    await kill_and_see_it_back("mail-sink")
    assert "gave up" not in up.output()

    # Everything answers again: more payments go through, and every one ends confirmed, once.
    await eventually(_ready(up, h), timeout=120, interval=0.5, what="every process answers")
    again = Stream(h)
    runner = asyncio.create_task(again.run())
    try:
        await again.started_since(0)
    finally:
        await again.stop()
        await runner
    payments = stream.payments + again.payments
    assert not stream.errors + again.errors, stream.errors + again.errors
    for payment in payments:
        await h.wait_status(payment.user, payment.reservation_id, "succeeded", timeout=120)
    facts = await h.facts()
    confirmed = Counter(f.reservation_id for f in facts if isinstance(f, ReservationConfirmedV1))
    assert all(confirmed[p.reservation_id] == 1 for p in payments), confirmed
    fact_ids = {str(f.event_id) for f in facts}
    state: dict[str, Any] = {}

    async def one_mail_per_fact() -> bool:
        state["mails"] = kept_mail + await h.messages()
        return {fact_id(m) for m in state["mails"]} >= fact_ids

    await eventually(one_mail_per_fact, timeout=120, interval=0.5, what="an e-mail per fact")
    distinct = {(fact_id(m), m["Subject"]) for m in state["mails"]}
    assert len(distinct) == len(fact_ids), "a fact with no e-mail, or two different ones"


def _ready(up: DevstackUp, h: Harness) -> Any:
    async def probe() -> bool:
        for part, path in [("checkout", "/healthz"), ("reservation-api", "/healthz")]:
            try:
                if (await h.http.get(up.url(part, path))).status_code != 200:
                    return False
            except Exception:
                return False
        return True

    return probe


async def test_stale_start_hard_kill_and_the_next_start_repairs(devstack_up: DevstackUp) -> None:
    up, h = devstack_up, devstack_up.harness()
    # A second start on the same data is refused, naming the one command that stops the first.
    second = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "devstack.cli", "up", "--free-ports"],
        env=up.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 1
    assert "already runs" in second.stderr
    assert "make stop" in second.stderr

    # A fact the relay published but the (frozen) notifier never consumed...
    notifier = up.state.pids["notifier"]
    assert notifier is not None
    os.kill(notifier, signal.SIGSTOP)
    user = h.user("restart")
    booked = await h.book(user)
    session = await h.create_session(user, [booked["id"]])
    await h.complete(session["sessionId"], "paid")
    await h.wait_status(user, booked["id"], "succeeded", timeout=120)

    async def facts_sent() -> bool:
        import psycopg

        async with await psycopg.AsyncConnection.connect(up.state.databases["reservation"]) as c:
            cursor = await c.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            row = await cursor.fetchone()
        return row is not None and row[0] == 0 and bool(await h.facts_of(user))

    await eventually(facts_sent, timeout=60, interval=0.2, what="the facts published")

    # ...and then `make run`'s whole process group is SIGKILLed: nothing it started survives.
    assert up.proc is not None
    started = up.everything()
    os.killpg(up.proc.pid, signal.SIGKILL)
    up.proc.wait(timeout=30)

    async def all_gone() -> bool:
        return not [p for p in started if _running(p)]

    await eventually(all_gone, timeout=60, interval=0.2, what=lambda: f"all of {started} gone")

    # The next start republishes what the lost broker held: the e-mail arrives after all.
    await asyncio.to_thread(up.start)
    h = up.harness()
    await h.assert_one_email_per_fact(user, timeout=120)
    resent = re.search(r"(\d+) outbox rows sent since the previous run started", up.output())
    assert resent is not None
    assert int(resent[1]) >= 1

    # `make stop` (SIGTERM, as Ctrl-C) stops every process last started first, then the rest.
    started = up.everything()
    stopped = await asyncio.to_thread(up.make, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert up.proc is not None
    up.proc.wait(timeout=120)
    output = up.output()
    order = [output.index(f"stopping {name}") for name in ("notifier", "checkout", "mail-sink")]
    assert order == sorted(order)
    assert "devstack: stopped" in output
    assert not [p for p in started if _running(p)]
