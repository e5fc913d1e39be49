"""Pytest fixtures: a real PostgreSQL and a real broker once per session, unique names per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from backbone.kafka import ensure_topics
from backbone.settings import KafkaSettings
from devstack.infra import Provided, provide_kafka, provide_postgres
from devstack.postgres import copy_database, ensure_database
from devstack.testing import run_sync

Prepare = Callable[[str], None]


@pytest.fixture(scope="session")
def kafka_infra() -> Iterator[Provided]:
    """The session's broker (environment, testcontainers or embedded Tansu)."""
    provided = provide_kafka()
    yield provided
    provided.stop()


@pytest.fixture(scope="session")
def kafka_settings(kafka_infra: Provided) -> KafkaSettings:
    """Client settings for the session's broker, with the short group timeouts tests need."""
    settings = KafkaSettings(
        bootstrap_servers=kafka_infra.address,
        session_timeout_ms=3_000,
        heartbeat_interval_ms=500,
        send_timeout_s=5.0,
    )
    run_sync(ensure_topics(settings))
    return settings


@pytest.fixture(scope="session")
def postgres_infra() -> Iterator[Provided]:
    """The session's PostgreSQL server (environment, testcontainers or embedded)."""
    provided = provide_postgres()
    yield provided
    provided.stop()


@pytest.fixture(scope="session")
def make_database(postgres_infra: Provided) -> Callable[[str], str]:
    """A factory of new, empty databases with unique names; returns each one's URL."""

    def make(prefix: str = "test") -> str:
        return ensure_database(postgres_infra.address, f"{prefix}_{uuid.uuid4().hex[:12]}")

    return make


@pytest.fixture(scope="session")
def migrated_database(postgres_infra: Provided) -> Callable[[str, Prepare], str]:
    """A factory of new databases already prepared by `prepare` (migrations, seeds), unique names.

    Each `prepare` runs once per session, into a template database; every database asked for
    afterwards is a copy of that template (CREATE DATABASE ... TEMPLATE), which costs a file copy
    instead of a migration run per test. `prepare` must be a module-level function (it is the
    template's key) that leaves the database as every test expects to find it.
    """
    templates: dict[tuple[str, Prepare], str] = {}

    def make(prefix: str, prepare: Prepare) -> str:
        template = templates.get((prefix, prepare))
        if template is None:
            template = f"template_{prefix}_{uuid.uuid4().hex[:12]}"
            prepare(ensure_database(postgres_infra.address, template))
            templates[(prefix, prepare)] = template
        return copy_database(postgres_infra.address, template, f"{prefix}_{uuid.uuid4().hex[:12]}")

    return make


@pytest.fixture
def database_url(make_database: Callable[[str], str]) -> str:
    """A new, empty database for this test."""
    return make_database("test")


@pytest.fixture
def unique() -> str:
    """A short id unique to this test, for topic, group and entity names."""
    return uuid.uuid4().hex[:10]
