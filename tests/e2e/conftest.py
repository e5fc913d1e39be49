"""End-to-end fixtures: the whole system as real processes, driven over HTTP like a browser.

Each stack (`make_stack`) is a `devstack.running.RunningStack`: the same processes as `make run`,
on free ports, with their own databases on the session's PostgreSQL. On the embedded broker each
stack also gets its own broker, so its traffic is isolated and broker faults touch nothing else.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from backbone.settings import KafkaSettings
from devstack.infra import Provided
from devstack.running import RunningStack

from .harness import Harness

pytestmark = pytest.mark.e2e

StackFactory = Callable[..., Harness]
_counter = itertools.count()


def _kafka_settings(address: str) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=address,
        session_timeout_ms=3_000,
        heartbeat_interval_ms=500,
        send_timeout_s=5.0,
    )


@pytest.fixture(scope="session")
def make_stack(
    kafka_infra: Provided, postgres_infra: Provided, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StackFactory]:
    """A factory of running stacks; every stack it made is stopped at the end of the session.

    `env` overrides process environments by process name (e.g. a shorter hold for the worker).
    """
    made: list[RunningStack] = []

    def make(name: str, env: dict[str, dict[str, str]] | None = None) -> Harness:
        work_dir = tmp_path_factory.mktemp(f"e2e-{name}-{next(_counter)}")
        stack = RunningStack.isolated(kafka_infra, postgres_infra, work_dir, env=env)
        made.append(stack)
        try:
            stack.start()
        except BaseException:
            stack.stop()
            raise
        kafka = _kafka_settings(stack.kafka)
        return Harness(stack=stack, kafka=kafka, broker=stack.broker, work_dir=work_dir)

    yield make
    for stack in reversed(made):
        stack.stop()


@pytest.fixture(scope="session")
def shared_stack(make_stack: StackFactory) -> Harness:
    """One stack for the scenarios that need no special settings and inject no fault."""
    return make_stack("shared")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On failure, attach the tail of every process's log of the stacks the test used."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    funcargs = getattr(item, "funcargs", {})
    for value in funcargs.values():
        if isinstance(value, Harness):
            for name, text in value.stack.logs().items():
                report.sections.append((f"log of {name} (tail)", text[-6000:]))
            with contextlib.suppress(OSError):
                broker_log = Path(value.work_dir / "broker.log")
                if broker_log.exists():
                    tail = broker_log.read_text(errors="replace")[-2000:]
                    report.sections.append(("log of broker (tail)", tail))
