"""Broker stopped and started again under a running service: 503 in bound, then 200 on its own.

This test owns its broker (the embedded one, restarted on the same port), so stopping it does not
disturb the session broker the other tests share.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
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
from webhook_ingest.settings import IngestSettings

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
    kafka, settings = await _capped_at(own_broker, 5)
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


async def test_a_shed_answer_goes_out_from_the_head_and_the_connection_serves_on(
    own_broker: EmbeddedBroker,
) -> None:
    """At the cap, the 503 is written from the request's head (below ASGI: the app never sees
    the request), its body is read and dropped, and the same connection serves the next one."""
    kafka, settings = await _capped_at(own_broker, 2)
    assert own_broker.pid is not None
    with serve(settings, kafka) as service:
        publisher = service.app.ingest.publisher
        port = int(service.url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
            os.kill(own_broker.pid, signal.SIGSTOP)
            try:
                waiting = [asyncio.create_task(post(client, make_event())) for _ in range(2)]
                await eventually(_async(lambda: publisher.in_flight >= 2), what="2 in flight")
                received = _received()
                shed = make_event()
                writer.write(_request(shed, sign(shed), request_id=b"req-shed-1"))
                status, headers, body = await _response(reader)
                assert status == 503
                assert headers[b"retry-after"] == b"1"
                assert headers[b"x-request-id"] == b"req-shed-1"
                # uvicorn's cycle adds a date to every answer it writes; the protocol wrote this.
                assert b"date" not in headers
                assert json.loads(body)["error"]["code"] == "overloaded"
                assert _received() == received + 1  # counted once, as a received webhook
                assert {r.status_code for r in await asyncio.gather(*waiting)} == {503}
            finally:
                os.kill(own_broker.pid, signal.SIGCONT)
            await eventually(_async(lambda: publisher.in_flight == 0), what="nothing in flight")
        accepted = make_event()
        writer.write(_request(accepted, sign(accepted), request_id=b"req-next"))
        status, headers, _ = await _response(reader)
        assert status == 200
        assert headers[b"x-request-id"] == b"req-next"
        assert b"date" in headers  # served through ASGI, as every accepted webhook is
        writer.close()
    records = await wait_for_records(kafka, TOPIC, 1)
    assert accepted in [r.value for r in records]
    assert shed not in [r.value for r in records]


async def _capped_at(
    own_broker: EmbeddedBroker, max_in_flight: int
) -> tuple[KafkaSettings, IngestSettings]:
    """The broker's settings, with the topic made, and ingest's, capped at `max_in_flight`."""
    assert own_broker.pid is not None
    kafka = KafkaSettings(bootstrap_servers=own_broker.bootstrap_servers)
    await ensure_topics(kafka, {TOPIC: 6})
    settings = ingest_settings(
        TOPIC,
        WEBHOOK_INGEST_PUBLISH_TIMEOUT_S=PUBLISH_TIMEOUT_S,
        WEBHOOK_INGEST_MAX_IN_FLIGHT=max_in_flight,
    )
    return kafka, settings


def _request(body: bytes, signature: str, *, request_id: bytes) -> bytes:
    head = (
        b"POST /webhooks/stripe HTTP/1.1\r\nhost: ingest\r\ncontent-type: application/json\r\n"
        b"stripe-signature: %s\r\nx-request-id: %s\r\ncontent-length: %d\r\n\r\n"
        % (signature.encode(), request_id, len(body))
    )
    return head + body


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status_line, *lines = head[:-4].split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    body = await asyncio.wait_for(reader.readexactly(int(headers[b"content-length"])), 10)
    return int(status_line.split()[1]), headers, body


def _received() -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("webhook_ingest_received_total") or 0.0


def _async(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    """A synchronous check as the awaitable probe `eventually` polls."""

    async def probe() -> bool:
        return check()

    return probe
