"""Rules that keep the repository honest: topic names in one place, one package per service."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from contracts.topics import TOPICS, all_topic_partitions

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {
    "checkout": "checkout",
    "webhook-ingest": "webhook_ingest",
    "reservation": "reservation",
    "notifier": "notifier",
}


def _sources() -> list[Path]:
    roots = [ROOT / "services", ROOT / "libs" / "backbone" / "src", ROOT / "devtools"]
    return [p for root in roots for p in root.rglob("*.py") if "/tests/" not in str(p)]


def test_topic_names_are_written_only_in_the_contracts() -> None:
    names = sorted(all_topic_partitions(), key=len, reverse=True)
    pattern = re.compile("|".join(rf"[\"']{re.escape(n)}[\"']" for n in names))
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in _sources()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == [], "use contracts.topics constants:\n" + "\n".join(offenders)


def test_every_service_is_a_src_layout_package_with_a_unique_import_name() -> None:
    for folder, package in SERVICES.items():
        project = tomllib.loads((ROOT / "services" / folder / "pyproject.toml").read_text())
        assert project["project"]["name"] == folder
        assert (ROOT / "services" / folder / "src" / package / "__init__.py").is_file()
    assert len(set(SERVICES.values())) == len(SERVICES)


def test_workspace_members_are_locked() -> None:
    lock = (ROOT / "uv.lock").read_text()
    for pyproject in ROOT.glob("*/*/pyproject.toml"):
        name = tomllib.loads(pyproject.read_text())["project"]["name"]
        assert f'name = "{name}"' in lock, f"{name} is missing from uv.lock: run make lock"


def test_registry_topics_have_partitions_and_consumers_have_retry_and_dlq() -> None:
    wanted = all_topic_partitions()
    for spec in TOPICS.values():
        assert spec.partitions >= 1
        for group in spec.consumers:
            assert f"{group}.retry" in wanted
            assert f"{group}.dlq" in wanted
