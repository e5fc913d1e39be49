"""deploy/monitoring: Prometheus config, alert rules (and their unit tests) via promtool, and a
Grafana dashboard that parses and reads only metrics our services define."""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from .promql import metric_names

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
DASHBOARDS = MONITORING / "grafana" / "dashboards"
RULES = sorted((MONITORING / "rules").glob("*.yml"))
RULE_TESTS = sorted((MONITORING / "tests").glob("*.test.yml"))
SCRAPED_JOBS = {"webhook-ingest", "checkout", "reservation-api", "reservation-worker", "notifier"}

# Every module that defines the metrics the services expose (importing them registers them).
METRIC_MODULES = (
    "backbone.metrics",
    "webhook_ingest.metrics",
    "checkout.adapters.stripe_gateway",
    "checkout.adapters.metrics",
    "reservation.adapters.metrics",
    "reservation.adapters.money_metrics",
    "reservation.entrypoints.routes.reservations",
    "notifier.adapters.metrics",
)
# Series Prometheus makes itself for every target.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
_SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")


@pytest.fixture(scope="module")
def promtool() -> str:
    """promtool, from Debian's prometheus package (installed here when missing and root)."""
    found = shutil.which("promtool")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.fail(
            "promtool is missing and this user cannot install it: run as root, or"
            " `apt-get install -y --no-install-recommends prometheus` first"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "prometheus"],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stderr[-2000:]}"
    found = shutil.which("promtool")
    assert found, "the prometheus package installed no promtool"
    return found


def _run(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(args, capture_output=True, text=True, cwd=cwd, check=False)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_prometheus_config_is_valid_and_scrapes_every_service(
    promtool: str, tmp_path: Path
) -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) >= SCRAPED_JOBS
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in SCRAPED_JOBS:
        for target in (t for group in jobs[name]["static_configs"] for t in group["targets"]):
            host = target.split(":")[0]
            assert host in compose, f"{name} scrapes {target}: no compose service {host}"
    # The compose file mounts the rules under /etc/prometheus/rules; check against the repo's.
    local = dict(config, rule_files=[str(MONITORING / "rules" / "*.yml")])
    checked = tmp_path / "prometheus.yml"
    checked.write_text(yaml.safe_dump(local))
    _run(promtool, "check", "config", str(checked))


def test_alert_rules_are_valid(promtool: str) -> None:
    assert RULES
    _run(promtool, "check", "rules", *map(str, RULES))


@pytest.mark.slow  # promtool runs the rules' unit tests
def test_alert_rules_unit_tests_pass(promtool: str) -> None:
    assert RULE_TESTS
    for path in RULE_TESTS:
        _run(promtool, "test", "rules", path.name, cwd=path.parent)


def test_every_alert_the_issue_asks_for_exists() -> None:
    alerts = {
        rule["alert"]
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert alerts >= {
        "PaymentFailureRateHigh",
        "DeadLetter",
        "WebhookSignatureRejectionsSpiking",
        "ConsumerLagGrowing",
        "WebhookPublishErrors",
        "NoWebhooksDuringBusinessHours",
        "WebhookRejectionShareHigh",
        "WebhookEventsRefused",
    }


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule of every rules file."""
    return [
        rule
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


_TEMPLATE = re.compile(r"\{\{.*?\}\}")
_PLACEHOLDER = re.compile(r"<[^>]*>")
DOCKER_COMPOSE_VERBS = {"ps", "logs", "restart", "up", "stop", "start", "exec"}


def _help_of(argv: list[str]) -> str:
    """The --help text of a command of ours, or a failure naming it."""
    done = subprocess.run(
        [*argv, "--help"], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, f"`{' '.join(argv)}` does not exist:\n{done.stderr[-1000:]}"
    return done.stdout


def _check_command(command: str, compose: dict[str, Any]) -> None:
    """`command` (from a runbook) names a subcommand, options and services that exist."""
    words = shlex.split(_PLACEHOLDER.sub("X", _TEMPLATE.sub("X", command)))
    options = [w.split("=")[0] for w in words if w.startswith("--")]
    if words[:2] == ["docker", "compose"]:
        verb, *rest = words[2:]
        assert verb in DOCKER_COMPOSE_VERBS, command
        for word in rest:
            service = word.split("=")[0]  # --scale notifier=3 names the service before "="
            if not word.startswith("-") and service != "X":
                assert service in compose, f"`{command}`: no compose service {service}"
        return
    if words[0] == "dlq":
        text = _help_of([str(Path(sys.executable).parent / "dlq"), *words[1:2]])
    elif words[:2] == ["python", "-m"]:
        positional = [w for w in words[3:4] if not w.startswith("-")]  # its subcommand
        text = _help_of([sys.executable, "-m", words[2], *positional])
    else:
        raise AssertionError(f"runbook command of an unknown kind: `{command}`")
    for option in options:
        assert option in text, f"`{command}`: {option} is not an option of it"


@pytest.mark.slow  # runs every command a runbook names
def test_every_alert_has_a_runbook_naming_commands_that_exist() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    checked: dict[str, None] = {}
    for rule in alert_rules():
        runbook = rule.get("annotations", {}).get("runbook", "")
        commands = re.findall(r"`([^`]+)`", runbook)
        assert commands, f"{rule['alert']}: no runbook annotation naming a `command`"
        for annotation in rule["annotations"].values():
            for command in re.findall(r"`([^`]+)`", annotation):
                if command.split()[0] in {"dlq", "python", "docker"}:
                    checked[command] = None
    for command in checked:
        _check_command(command, compose)


def recorded_names() -> set[str]:
    """Names of the recording rules (dashboards may read them)."""
    return {
        rule["record"]
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def rule_metric_names() -> set[str]:
    """Metric names the alert and recording rules read."""
    return {
        name
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        for name in metric_names(rule["expr"])
    }


def _targets(panel: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for t in panel.get("targets", []) if t.get("expr")]
    for inner in panel.get("panels", []):
        exprs.extend(_targets(inner))
    return exprs


def dashboard_metric_names() -> set[str]:
    """Metric names every dashboard's panels read."""
    names: set[str] = set()
    for path in sorted(DASHBOARDS.glob("*.json")):
        doc = json.loads(path.read_text())
        for panel in doc["panels"]:
            for expr in _targets(panel):
                names |= metric_names(expr)
    return names


def defined_names() -> set[str]:
    """Family names of every metric the services define, from the default registry."""
    for module in METRIC_MODULES:
        importlib.import_module(module)
    return {metric.name for metric in REGISTRY.collect()}


def is_defined(name: str, families: set[str]) -> bool:
    """`name` is a family, or a family's sample (`_total`, `_bucket`, ...)."""
    if name in families:
        return True
    return any(name.endswith(s) and name[: -len(s)] in families for s in _SUFFIXES)


def test_dashboards_parse_and_are_provisioned() -> None:
    paths = sorted(DASHBOARDS.glob("*.json"))
    assert paths
    for path in paths:
        doc = json.loads(path.read_text())
        assert doc["uid"]
        assert doc["title"]
        assert doc["panels"]
        for panel in doc["panels"]:
            if panel["type"] != "row":
                assert _targets(panel), f"{path.name}: panel {panel['title']!r} has no query"
    provider = yaml.safe_load(
        (MONITORING / "grafana/provisioning/dashboards/dashboards.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"]
    datasource = yaml.safe_load(
        (MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"


def test_dashboard_and_rules_read_only_metrics_the_services_define() -> None:
    families = defined_names() | PROMETHEUS_OWN
    recorded = recorded_names()
    wanted = dashboard_metric_names() | rule_metric_names()
    assert len(wanted) > 10, wanted
    unknown = sorted(n for n in wanted if n not in recorded and not is_defined(n, families))
    assert not unknown, f"metrics no service defines: {unknown}"


def test_compose_runs_prometheus_and_grafana_with_this_configuration() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    mounts = " ".join(services["prometheus"]["volumes"])
    assert "deploy/monitoring/prometheus.yml" in mounts
    assert "deploy/monitoring/rules" in mounts
    mounts = " ".join(services["grafana"]["volumes"])
    assert "deploy/monitoring/grafana/provisioning" in mounts
    assert "deploy/monitoring/grafana/dashboards" in mounts
    worker = services["reservation-worker"]["environment"]
    assert worker["RESERVATION_WORKER_METRICS_PORT"] == "8004"
