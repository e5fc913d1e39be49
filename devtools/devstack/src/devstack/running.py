"""The whole system as real child processes, for end-to-end tests: free ports, own databases.

It starts exactly what `make run` starts (the same `devstack.stack.processes`), so an end-to-end
test and a developer's stack never drift apart. Each process can be killed and restarted.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from backbone.kafka import ensure_topics
from backbone.settings import KafkaSettings
from devstack.broker import EmbeddedBroker
from devstack.devauth import DevAuth
from devstack.infra import Provided
from devstack.ports import free_port
from devstack.postgres import ensure_database
from devstack.stack import DATABASES, PORTS, ProcessSpec, StackConfig, processes, webhook_secret
from devstack.testing import ChildProcess, run_sync


@dataclass
class RunningStack:
    """Every available process of the stack, on free ports, logging into `work_dir`."""

    kafka: str
    postgres_server_url: str
    work_dir: Path
    secret: str | None = None
    broker: EmbeddedBroker | None = None  # the stack's own broker, stopped with it
    config: StackConfig = field(init=False)
    auth: DevAuth = field(init=False)
    children: dict[str, ChildProcess] = field(default_factory=dict, init=False)
    specs: dict[str, ProcessSpec] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        suffix = uuid.uuid4().hex[:8]
        databases = {
            name: ensure_database(self.postgres_server_url, f"{name}_{suffix}")
            for name in DATABASES
        }
        self.auth = DevAuth(self.work_dir / "dev-auth").ensure()
        self.config = StackConfig(
            kafka=self.kafka,
            databases=databases,
            webhook_secret=webhook_secret(self.work_dir, self.secret),
            data_dir=self.work_dir,
            jwks_url=self.auth.jwks_url,
            issuer=self.auth.issuer,
            ports={name: free_port() for name in PORTS},
        )
        self.specs = {p.name: p for p in processes(self.config) if p.available}

    @classmethod
    def isolated(
        cls,
        kafka: Provided,
        postgres: Provided,
        work_dir: Path,
        *,
        env: Mapping[str, Mapping[str, str]] | None = None,
        env_all: Mapping[str, str] | None = None,
    ) -> RunningStack:
        """A stack (not started) that no other test's records reach.

        On the embedded broker it gets a broker of its own (also what broker faults need);
        an address from the environment or a container is shared. `env` overrides one
        process's environment by name, `env_all` every process's.
        """
        broker = None
        address = kafka.address
        if kafka.origin == "embedded":
            work_dir.mkdir(parents=True, exist_ok=True)
            broker = EmbeddedBroker(log_file=work_dir / "broker.log").start()
            address = broker.bootstrap_servers
        stack = cls(address, postgres.address, work_dir, broker=broker)
        stack.create_topics()
        for name, spec in stack.specs.items():
            extra = {**(env_all or {}), **(env or {}).get(name, {})}
            stack.specs[name] = dataclasses.replace(spec, env={**spec.env, **extra})
        return stack

    def create_topics(self) -> None:
        """Every registry topic on the stack's broker (again after an in-memory broker restart)."""
        run_sync(ensure_topics(KafkaSettings(bootstrap_servers=self.kafka)))

    def url(self, part: str, path: str = "") -> str:
        """The local address of one part (checkout, webhook-ingest, mail-web, ...)."""
        return self.config.url(part, path)

    def token(self, user_id: str, email: str) -> str:
        """A bearer token the stack's services accept."""
        return self.auth.issue_token(user_id, email)

    def start(self, timeout: float = 90.0) -> RunningStack:
        """Start every process, then wait until each HTTP one answers its health check."""
        for name in self.specs:
            self.start_process(name)
        self.wait_healthy(timeout)
        return self

    def start_process(self, name: str) -> ChildProcess:
        """Start (or start again) one process by name."""
        spec = self.specs[name]
        child = ChildProcess(
            ["-m", spec.module, *spec.args],
            env=spec.env,
            log_path=self.work_dir / f"{name}.log",
            cwd=self.work_dir,
        ).start()
        self.children[name] = child
        return child

    def kill(self, name: str) -> None:
        """SIGKILL one process, as a crash would."""
        self.children[name].kill()

    def restart(self, name: str, timeout: float = 60.0) -> None:
        """Start a killed or stopped process again and wait for its health check."""
        self.children[name].terminate()
        self.start_process(name)
        self.wait_healthy(timeout, only=[name])

    def wait_healthy(self, timeout: float, only: list[str] | None = None) -> None:
        """Poll every health URL (and that every process lives) until all answer 200."""
        names = only or list(self.specs)
        deadline = time.monotonic() + timeout
        pending = set(names)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for name in sorted(pending):
                    child = self.children[name]
                    if not child.alive:
                        raise RuntimeError(f"{name} exited:\n{child.output()[-4000:]}")
                    health = self.specs[name].health
                    if health is None or _answers(client, health):
                        pending.discard(name)
                if pending and time.monotonic() > deadline:
                    logs = "\n".join(
                        f"--- {n}\n{self.children[n].output()[-2000:]}" for n in pending
                    )
                    raise TimeoutError(f"not healthy after {timeout}s: {sorted(pending)}\n{logs}")
                if pending:
                    time.sleep(0.2)

    def logs(self) -> dict[str, str]:
        """Every process's output so far."""
        return {name: child.output() for name, child in self.children.items()}

    def stop(self) -> None:
        """Terminate every process (SIGTERM, then SIGKILL), then the stack's own broker."""
        for child in self.children.values():
            child.terminate()
        if self.broker is not None:
            self.broker.stop()


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False
