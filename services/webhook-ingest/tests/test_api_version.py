"""An event of an API version the consumers were not written for: published, counted, logged."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from prometheus_client import REGISTRY

from backbone.settings import KafkaSettings
from contracts.stripe import STRIPE_API_VERSION
from devstack.testing import wait_for_records

from .conftest import Running, make_event, sign

pytestmark = pytest.mark.integration


def _with_version(version: str | None) -> bytes:
    event = json.loads(make_event())
    if version is None:
        del event["api_version"]
    else:
        event["api_version"] = version
    return json.dumps(event).encode()


def _mismatches(label: str) -> float:
    value = REGISTRY.get_sample_value(
        "webhook_ingest_api_version_mismatch_total", {"api_version": label}
    )
    return value or 0.0


async def _post(service: Running, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body)}
    async with httpx.AsyncClient(base_url=service.url, timeout=15) as client:
        return await client.post("/webhooks/stripe", content=body, headers=headers)


async def test_other_api_version_is_published_and_counted(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service()
    before = {v: _mismatches(v) for v in ("2020-08-27", "none", "other", STRIPE_API_VERSION)}
    bodies = [
        _with_version("2020-08-27"),
        _with_version(None),
        _with_version("not a version\n"),
        _with_version(STRIPE_API_VERSION),
    ]

    for body in bodies:
        response = await _post(service, body)
        assert response.status_code == 200, response.text

    # Never rejected: the consumers ignore fields they do not know, and Stripe would retry a 4xx.
    records = await wait_for_records(kafka_settings, topic, len(bodies))
    assert sorted(r.value or b"" for r in records) == sorted(bodies)
    assert _mismatches("2020-08-27") == before["2020-08-27"] + 1
    assert _mismatches("none") == before["none"] + 1
    assert _mismatches("other") == before["other"] + 1
    assert _mismatches(STRIPE_API_VERSION) == before[STRIPE_API_VERSION]


async def test_understood_versions_are_configurable(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service(WEBHOOK_INGEST_API_VERSIONS=f"{STRIPE_API_VERSION}, 2025-03-31.basil")
    before = _mismatches("2025-03-31.basil")

    response = await _post(service, _with_version("2025-03-31.basil"))

    assert response.status_code == 200, response.text
    await wait_for_records(kafka_settings, topic, 1)
    assert _mismatches("2025-03-31.basil") == before
