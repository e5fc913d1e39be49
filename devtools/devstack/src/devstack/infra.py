"""The one place that chooses the infrastructure: environment, then testcontainers, then embedded.

`make run` and the pytest fixtures both call `provide_postgres` and `provide_kafka`, so a test
run and a development stack always stand on the same choice.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from devstack.broker import EmbeddedBroker
from devstack.postgres import EmbeddedPostgres

Origin = Literal["environment", "testcontainers", "embedded"]


@dataclass
class Provided:
    """An address to use, where it came from, and how to let go of it."""

    address: str
    origin: Origin
    _stop: Callable[[], None] = field(default=lambda: None, repr=False)
    embedded_broker: EmbeddedBroker | None = field(default=None, repr=False)
    embedded_postgres: EmbeddedPostgres | None = field(default=None, repr=False)

    def stop(self) -> None:
        """Stop what we started; an address from the environment is left alone."""
        self._stop()


def _use_containers() -> bool:
    if os.environ.get("DEVSTACK_NO_CONTAINERS"):
        return False
    from devstack.containers import docker_available

    return docker_available()


def provide_postgres(data_dir: Path | None = None) -> Provided:
    """A PostgreSQL server URL: DATABASE_URL, else a container, else embedded.

    With `data_dir` the embedded server keeps its data there across restarts; without, it is a
    throwaway tuned for speed.
    """
    if url := os.environ.get("DATABASE_URL"):
        return Provided(url, "environment")
    if _use_containers():
        from devstack.containers import start_postgres

        container, url = start_postgres()
        return Provided(url, "testcontainers", container.stop)
    server = EmbeddedPostgres(data_dir) if data_dir else EmbeddedPostgres.temporary()
    server.start()
    return Provided(server.url, "embedded", server.stop, embedded_postgres=server)


def provide_kafka(port: int = 0, log_file: Path | None = None) -> Provided:
    """A broker address: KAFKA_BOOTSTRAP_SERVERS, else a container, else embedded Tansu."""
    if servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return Provided(servers, "environment")
    if _use_containers():
        from devstack.containers import start_kafka

        container, servers = start_kafka()
        return Provided(servers, "testcontainers", container.stop)
    broker = EmbeddedBroker(port=port, log_file=log_file).start()
    return Provided(broker.bootstrap_servers, "embedded", broker.stop, embedded_broker=broker)
