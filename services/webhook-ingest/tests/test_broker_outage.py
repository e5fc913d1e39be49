"""Broker stopped and started again under a running service: 503 in bound, then 200 on its own.

This test owns its broker (the embedded one, restarted on the same port), so stopping it does not
disturb the session broker the other tests share.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from backbone.kafka import ensure_topics
from backbone.settings import KafkaSettings
from contracts import headers as h
from contracts.topics import STRIPE_EVENTS
from devstack.broker import EmbeddedBroker
from devstack.testing import eventually, wait_for_records

from .conftest import ingest_settings, make_event, serve, sign

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PUBLISH_TIMEOUT_S = 2.0
TOPIC = STRIPE_EVENTS


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(log_file=tmp_path / "broker.log").start()
    yield broker
    broker.stop()


async def post(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await client.post(
        "/webhooks/stripe",
        content=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": sign(body)},
    )


async def test_broker_down_503_then_recovers_without_restart(own_broker: EmbeddedBroker) -> None:
    kafka = KafkaSettings(bootstrap_servers=own_broker.bootstrap_servers, send_timeout_s=5.0)
    await ensure_topics(kafka, {TOPIC: 6})
    settings = ingest_settings(
        TOPIC, WEBHOOK_INGEST_PUBLISH_TIMEOUT_S=PUBLISH_TIMEOUT_S, WEBHOOK_INGEST_RETRY_AFTER_S=7
    )
    with serve(settings, kafka) as service:
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
            first = make_event()
            assert (await post(client, first)).status_code == 200

            await asyncio.to_thread(own_broker.stop)

            # Several posts while it is down: each a 503 with a retry hint, within the bound.
            for _ in range(3):
                started = time.monotonic()
                response = await post(client, make_event())
                elapsed = time.monotonic() - started
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"] == "7"
                assert response.json()["error"]["code"] in {"broker_unavailable", "timeout"}
                assert response.json()["error"]["retryable"] is True
                assert elapsed < PUBLISH_TIMEOUT_S + 1.0, elapsed
            assert (await client.get("/readyz")).status_code == 503
            assert (await client.get("/healthz")).status_code == 200

            # Same port; the embedded broker starts empty, so the topic is created again.
            await asyncio.to_thread(own_broker.start)
            await ensure_topics(kafka, {TOPIC: 6})

            after = make_event()
            response = await post(client, after)
            assert response.status_code == 200, response.text
            assert (await client.get("/readyz")).status_code == 200

    records = await wait_for_records(kafka, TOPIC, 1)
    assert [r.value for r in records] == [after]
    assert records[0].header(h.STRIPE_EVENT_ID) is not None


async def test_broker_hung_503_within_bound_then_recovers(own_broker: EmbeddedBroker) -> None:
    """A broker that accepts connections but answers nothing (SIGSTOP): the bound still holds."""
    import os
    import signal

    kafka = KafkaSettings(bootstrap_servers=own_broker.bootstrap_servers, send_timeout_s=5.0)
    await ensure_topics(kafka, {TOPIC: 6})
    settings = ingest_settings(TOPIC, WEBHOOK_INGEST_PUBLISH_TIMEOUT_S=PUBLISH_TIMEOUT_S)
    assert own_broker.pid is not None
    with serve(settings, kafka) as service:
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
            assert (await post(client, make_event())).status_code == 200
            os.kill(own_broker.pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                responses = await asyncio.gather(*(post(client, make_event()) for _ in range(20)))
                elapsed = time.monotonic() - started
            finally:
                os.kill(own_broker.pid, signal.SIGCONT)
            assert {r.status_code for r in responses} == {503}
            assert elapsed < PUBLISH_TIMEOUT_S + 1.0, elapsed

            after = make_event()
            response = await post(client, after)
            assert response.status_code == 200, response.text

    records = await wait_for_records(kafka, TOPIC, 2)
    assert after in [r.value for r in records]


async def test_in_flight_cap_answers_503_at_once_when_the_broker_hangs(
    own_broker: EmbeddedBroker,
) -> None:
    """Past the cap of publishes awaiting the broker, the answer is 503 without waiting."""
    import os
    import signal

    kafka = KafkaSettings(bootstrap_servers=own_broker.bootstrap_servers)
    await ensure_topics(kafka, {TOPIC: 6})
    settings = ingest_settings(
        TOPIC, WEBHOOK_INGEST_PUBLISH_TIMEOUT_S=PUBLISH_TIMEOUT_S, WEBHOOK_INGEST_MAX_IN_FLIGHT=5
    )
    assert own_broker.pid is not None
    with serve(settings, kafka) as service:
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
            assert (await post(client, make_event())).status_code == 200
            os.kill(own_broker.pid, signal.SIGSTOP)
            try:
                waiting = [asyncio.create_task(post(client, make_event())) for _ in range(5)]
                publisher = service.app.ingest.publisher
                await eventually(_async(lambda: publisher.in_flight >= 5), what="5 in flight")
                started = time.monotonic()
                refused = await post(client, make_event())
                assert time.monotonic() - started < 0.5
                assert refused.status_code == 503
                assert refused.json()["error"]["code"] == "overloaded"
                assert {r.status_code for r in await asyncio.gather(*waiting)} == {503}
            finally:
                os.kill(own_broker.pid, signal.SIGCONT)
            # The background publishes finish or fail; then the service accepts again.
            await eventually(_async(lambda: publisher.in_flight == 0), what="nothing in flight")
            assert (await post(client, make_event())).status_code == 200


def _async(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    """A synchronous check as the awaitable probe `eventually` polls."""

    async def probe() -> bool:
        return check()

    return probe
