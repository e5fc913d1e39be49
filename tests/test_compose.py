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
    "notifier": "notifier.settings:NotifierSettings",
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


def test_healthchecks_point_at_the_service_port() -> None:
    for name, service in SERVICES.items():
        env = service.get("environment") or {}
        if "HEALTH_URL" in env:
            port = re.search(r":(\d+)/", env["HEALTH_URL"])
            assert port is not None
            assert any(p.startswith(f"{port.group(1)}:") for p in service.get("ports", [])), name
