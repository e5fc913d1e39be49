"""docker-compose.yml, checked with no Docker engine: services exist, required settings are set."""

from __future__ import annotations

import importlib
import os
import re
import tomllib
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]

KAFKA = {"KAFKA_BOOTSTRAP_SERVERS"}
# What each process cannot run without in production (defaults exist only for development).
REQUIRED: dict[tuple[str, ...], set[str]] = {
    ("backbone.kafka.admin",): KAFKA,
    ("webhook_ingest",): KAFKA | {"STRIPE_WEBHOOK_SECRET", "WEBHOOK_INGEST_HOST"},
    ("reservation", "migrate"): KAFKA | {"DATABASE_URL"},
    ("reservation", "api"): KAFKA
    | {"DATABASE_URL", "AUTH_JWKS_URL", "AUTH_ISSUER", "STRIPE_API_KEY", "RESERVATION_HOST"}
    | {"RESERVATION_ENVIRONMENT"},
    ("reservation", "worker"): KAFKA | {"DATABASE_URL", "STRIPE_API_KEY", "RESERVATION_DATA_DIR"},
    ("reservation", "relay"): KAFKA | {"DATABASE_URL"},
    ("checkout", "migrate"): KAFKA | {"DATABASE_URL"},
    ("checkout", "api"): KAFKA
    | {"DATABASE_URL", "AUTH_JWKS_URL", "AUTH_ISSUER", "STRIPE_API_KEY", "CHECKOUT_HOST"}
    | {"CHECKOUT_PUBLIC_URL", "CHECKOUT_CORS_ORIGINS", "RESERVATION_API_URL"},
    ("checkout", "relay"): KAFKA | {"DATABASE_URL"},
    ("notifier", "worker"): KAFKA
    | {"DATABASE_URL", "NOTIFIER_SMTP_HOST", "NOTIFIER_OPERATOR_EMAIL", "NOTIFIER_DATA_DIR"},
    ("stripe_emulator",): {"STRIPE_WEBHOOK_URL", "STRIPE_WEBHOOK_SECRET"},
}
SETTINGS = {
    "webhook_ingest": "webhook_ingest.settings:IngestSettings",
    "reservation": "reservation.settings:Settings",
    "checkout": "checkout.settings:Settings",
    "notifier": "notifier.settings:Settings",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """The environment with ${VAR:-default} and ${VAR:?error} resolved as compose would."""

    def resolve(match: re.Match[str]) -> str:
        name, rest = match.group(1), match.group(0)
        if ":-" in rest:
            return match.group(2) or ""
        return f"value-of-{name.lower()}" if "URL" not in name else f"https://{name.lower()}.test"

    env = service.get("environment") or {}
    return {key: _VARIABLE.sub(resolve, str(value)) for key, value in env.items()}


def _command_key(command: list[str]) -> tuple[str, ...]:
    assert command[:2] == ["python", "-m"], command
    module, rest = command[2], command[3:]
    for key in REQUIRED:
        if key[0] == module and list(key[1:]) == rest[: len(key) - 1]:
            return key
    raise AssertionError(f"no requirements listed for {command}")


def _members() -> dict[str, Path]:
    members = {}
    for pyproject in ROOT.glob("*/*/pyproject.toml"):
        members[tomllib.loads(pyproject.read_text())["project"]["name"]] = pyproject.parent
    return members


def test_dependencies_and_images_name_services_that_exist() -> None:
    members = _members()
    built = {}
    for name, service in SERVICES.items():
        for dependency in service.get("depends_on") or {}:
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
        if build := service.get("build"):
            package = build["args"]["PACKAGE"]
            assert package in members, f"{name} builds unknown package {package}"
            assert (ROOT / build["dockerfile"]).is_file()
            built[service["image"]] = name
    for name, service in SERVICES.items():
        image = service.get("image", "")
        if image.startswith("payment-backbone/"):
            assert image in built, f"{name} uses {image}, which no service builds"


@pytest.mark.parametrize(
    "name", [n for n, s in SERVICES.items() if (s.get("command") or [""])[0] == "python"]
)
def test_every_process_has_its_module_and_required_settings(name: str) -> None:
    service = SERVICES[name]
    key = _command_key(service["command"])
    module = key[0]
    assert importlib.util.find_spec(module) is not None, f"{name}: no module {module}"
    env = _environment(service)
    missing = REQUIRED[key] - set(env)
    assert not missing, f"{name} lacks {sorted(missing)}"
    if module in SETTINGS:
        path, cls = SETTINGS[module].split(":")
        settings_class = getattr(importlib.import_module(path), cls)
        with mock.patch.dict(os.environ, env, clear=True):
            settings_class()  # every value the compose file sets parses
    if "DATABASE_URL" in env:
        from backbone.db import PruneSettings

        with mock.patch.dict(os.environ, env, clear=True):
            assert PruneSettings().retention_days > 30


def test_healthchecks_point_at_the_service_port() -> None:
    for name, service in SERVICES.items():
        env = service.get("environment") or {}
        if "HEALTH_URL" in env:
            port = re.search(r":(\d+)/", env["HEALTH_URL"])
            assert port is not None
            assert any(p.startswith(f"{port.group(1)}:") for p in service.get("ports", [])), name


def _brokers() -> dict[str, dict[str, str]]:
    return {
        name: {k: str(v) for k, v in (service.get("environment") or {}).items()}
        for name, service in SERVICES.items()
        if str(service.get("image", "")).startswith("apache/kafka")
    }


def test_kafka_runs_three_kraft_brokers_that_replicate_every_write() -> None:
    brokers = _brokers()
    assert len(brokers) == 3, sorted(brokers)
    voters = {f"{env['KAFKA_NODE_ID']}@{name}:9093" for name, env in brokers.items()}
    assert len({env["KAFKA_NODE_ID"] for env in brokers.values()}) == 3
    assert len({env["CLUSTER_ID"] for env in brokers.values()}) == 1
    for name, env in brokers.items():
        assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}, name
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters, name
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    everyone = {f"{name}:9092" for name in brokers}
    for name, service in SERVICES.items():
        servers = (service.get("environment") or {}).get("KAFKA_BOOTSTRAP_SERVERS")
        if servers is not None:
            assert set(servers.split(",")) == everyone, name
    assert set(SERVICES["kafka-init"]["depends_on"]) == set(brokers)


@pytest.mark.parametrize(
    "name",
    [n for n, s in SERVICES.items() if "KAFKA_BOOTSTRAP_SERVERS" in (s.get("environment") or {})],
)
def test_every_process_creates_topics_replicated_three_times_with_two_in_sync(name: str) -> None:
    from backbone.kafka import TopicSettings
    from contracts.topics import DLQ_AUDIT, STRIPE_EVENTS, dlq_topic

    env = _environment(SERVICES[name])
    with mock.patch.dict(os.environ, env, clear=True):
        settings = TopicSettings()
    assert settings.replication_factor == 3
    assert settings.min_insync_replicas == 2
    week = 7 * 24 * 3600 * 1000
    for topic in (DLQ_AUDIT, dlq_topic("reservation"), dlq_topic("notifier")):
        retention = int(settings.configs_for(topic)["retention.ms"])
        assert retention == -1 or retention > 4 * week, topic
    assert settings.configs_for(STRIPE_EVENTS)["retention.ms"] == str(week)


def _database_users() -> dict[str, tuple[str, str, str]]:
    """service -> (user, password variable, database) of its DATABASE_URL."""
    found = {}
    for name, service in SERVICES.items():
        url = (service.get("environment") or {}).get("DATABASE_URL")
        if url is None:
            continue
        match = re.fullmatch(r"postgresql://(\w+):\$\{(\w+)\}@postgres:5432/(\w+)", url)
        assert match, f"{name}: DATABASE_URL {url} is not user:${{PASSWORD}}@postgres/db"
        found[name] = (match.group(1), match.group(2), match.group(3))
    return found


def test_each_service_connects_as_its_own_role_owning_its_database() -> None:
    users = _database_users()
    assert {db for _, _, db in users.values()} == {"checkout", "reservation", "notifier"}
    postgres_env = SERVICES["postgres"]["environment"]
    init_sql = (ROOT / "deploy" / "postgres" / "init.sql").read_text()
    for name, (user, password, database) in users.items():
        assert user == database != "postgres", name
        assert password != "POSTGRES_PASSWORD", f"{name} knows the superuser's password"
        assert password in postgres_env, f"postgres does not get {password} for init.sql"
        assert f"\\getenv {user}_password {password}" in init_sql
        assert f"CREATE DATABASE {database} OWNER {user};" in init_sql
        assert f"REVOKE ALL ON DATABASE {database} FROM PUBLIC;" in init_sql
    passwords = {password for _, password, _ in users.values()}
    assert len(passwords) == 3, "one password per role"
    assert (
        "./deploy/postgres/init.sql:/docker-entrypoint-initdb.d/init.sql:ro"
        in (SERVICES["postgres"]["volumes"])
    )
