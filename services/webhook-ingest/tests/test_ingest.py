"""webhook-ingest over real HTTP against a real broker: publish, every rejection, concurrency."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest
import stripe
from prometheus_client import REGISTRY

from backbone.kafka import Message
from backbone.settings import KafkaSettings
from contracts import headers as h
from devstack.testing import eventually, read_topic, wait_for_records

from .conftest import OLD_SECRET, OTHER_SECRET, SECRET, Running, make_event, sign

pytestmark = pytest.mark.integration

JSON = "application/json; charset=utf-8"


async def post(
    service: Running,
    body: bytes,
    signature: str | None = None,
    *,
    content_type: str = JSON,
    extra: dict[str, str] | None = None,
) -> httpx.Response:
    headers = {"Content-Type": content_type, **(extra or {})}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    async with httpx.AsyncClient(base_url=service.url, timeout=15) as client:
        return await client.post("/webhooks/stripe", content=body, headers=headers)


async def assert_topic_empty(kafka_settings: KafkaSettings, topic: str) -> None:
    assert await read_topic(kafka_settings, topic) == []


def rejected_count(reason: str) -> float:
    """The service runs in this process: its counters are read from the registry directly."""
    value = REGISTRY.get_sample_value("webhook_ingest_rejected_total", {"reason": reason})
    return value or 0.0


async def test_signed_event_is_published_with_key_exact_bytes_and_headers(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service()
    body = make_event(obj={"id": "cs_test_abc", "object": "checkout.session", "note": "é ☕"})
    event = json.loads(body)
    before = time.time()

    response = await post(service, body, sign(body), extra={"X-Request-Id": "req-123"})

    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "req-123"
    [record] = await wait_for_records(kafka_settings, topic, 1)
    assert record.key == b"cs_test_abc"
    assert record.value == body
    assert record.header(h.STRIPE_EVENT_ID) == event["id"]
    assert record.header(h.STRIPE_EVENT_TYPE) == "checkout.session.completed"
    assert record.header(h.STRIPE_API_VERSION) == "2026-10-28.endive"
    assert record.header(h.STRIPE_LIVEMODE) == "false"
    assert record.header(h.REQUEST_ID) == "req-123"
    assert record.header(h.EVENT_ID) == event["id"]
    assert record.header(h.EVENT_TYPE) == "checkout.session.completed"
    assert record.header(h.CORRELATION_ID) == "cs_test_abc"
    received_at = record.header(h.RECEIVED_AT)
    assert received_at is not None
    assert received_at.endswith("+00:00")

    assert before - 1 <= datetime.fromisoformat(received_at).timestamp() <= time.time() + 1


async def test_unconsumed_type_is_published_keyed_by_its_object(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service()
    charge = make_event(
        "charge.refunded", {"id": "ch_1", "object": "charge", "payment_intent": "pi_9"}
    )
    other = make_event("customer.created", {"id": "cus_1", "object": "customer"})
    for body in (charge, other):
        response = await post(service, body, sign(body))
        assert response.status_code == 200, response.text
    records = await wait_for_records(kafka_settings, topic, 2)
    assert {(r.key, r.value) for r in records} == {(b"pi_9", charge), (b"cus_1", other)}


async def test_signed_by_the_stripe_package_helper(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service()
    body = make_event()
    header = stripe.WebhookSignature.generate_signature_header(body.decode("utf-8"), SECRET)
    response = await post(service, body, header)
    assert response.status_code == 200, response.text
    [record] = await wait_for_records(kafka_settings, topic, 1)
    assert record.value == body


async def test_two_secrets_either_signs_a_third_does_not(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service(STRIPE_WEBHOOK_SECRET=f"{SECRET}, {OLD_SECRET}")
    new, old, foreign = make_event(), make_event(), make_event()
    assert (await post(service, new, sign(new, SECRET))).status_code == 200
    assert (await post(service, old, sign(old, OLD_SECRET))).status_code == 200
    refused = await post(service, foreign, sign(foreign, OTHER_SECRET))
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "signature_mismatch"
    # Every answer is in: a 200 was given once the broker held its record, a 400 before any
    # publish, so what is on the topic now is all there will ever be.
    records = await read_topic(kafka_settings, topic)
    assert sorted(r.value for r in records if r.value) == sorted([new, old])


# --- one test per rejection: status, error, and nothing on the topic -------------------------


async def _rejected(
    service: Running,
    kafka_settings: KafkaSettings,
    topic: str,
    response: httpx.Response,
    status: int,
    error: str,
) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == error
    assert response.json()["error"]["retryable"] is False
    assert len(response.json()["error"]["message"]) < 200
    assert rejected_count(error) == service.rejected_before.get(error, 0.0) + 1
    metrics = httpx.get(f"{service.url}/metrics").text
    assert f'webhook_ingest_rejected_total{{reason="{error}"}}' in metrics
    await assert_topic_empty(kafka_settings, topic)


async def test_missing_signature_header(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service()
    response = await post(service, make_event(), None)
    await _rejected(service, kafka_settings, topic, response, 400, "missing_signature")


async def test_malformed_signature_header(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service()
    body = make_event()
    response = await post(service, body, "t=yesterday,v1=abc")
    await _rejected(service, kafka_settings, topic, response, 400, "malformed_signature")


async def test_no_v1_signature(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service()
    body = make_event()
    v0_only = sign(body).replace("v1=", "v0=")
    response = await post(service, body, v0_only)
    await _rejected(service, kafka_settings, topic, response, 400, "no_v1_signature")


async def test_signature_mismatch(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service()
    body = make_event()
    response = await post(service, body + b" ", sign(body))
    await _rejected(service, kafka_settings, topic, response, 400, "signature_mismatch")


async def test_stale_timestamp(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service()
    body = make_event()
    response = await post(service, body, sign(body, timestamp=int(time.time()) - 301))
    await _rejected(service, kafka_settings, topic, response, 400, "timestamp_too_old")


async def test_future_timestamp(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service()
    body = make_event()
    response = await post(service, body, sign(body, timestamp=int(time.time()) + 600))
    await _rejected(service, kafka_settings, topic, response, 400, "timestamp_in_future")


async def test_tolerance_is_configurable(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service(WEBHOOK_INGEST_TOLERANCE_S=10)
    body = make_event()
    response = await post(service, body, sign(body, timestamp=int(time.time()) - 30))
    await _rejected(service, kafka_settings, topic, response, 400, "timestamp_too_old")


async def test_non_json_body_after_verification(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service()
    body = b'["a JSON array, not an event"]'
    response = await post(service, body, sign(body))
    await _rejected(service, kafka_settings, topic, response, 400, "invalid_event")


async def test_deeply_nested_signed_event_is_400_not_a_retryable_500(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service()
    deep = "[" * 100_000 + "]" * 100_000
    body = make_event(obj={"id": "cs_test_deep", "object": "checkout.session", "x": 1})
    body = body.replace(b'"x": 1', b'"x": ' + deep.encode())
    response = await post(service, body, sign(body))
    await _rejected(service, kafka_settings, topic, response, 400, "invalid_event")


async def test_event_without_data_object(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service()
    body = json.dumps({"id": "evt_1", "type": "checkout.session.completed", "data": {}}).encode()
    response = await post(service, body, sign(body))
    await _rejected(service, kafka_settings, topic, response, 400, "invalid_event")


async def test_wrong_content_type(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service()
    body = make_event()
    response = await post(service, body, sign(body), content_type="text/plain")
    await _rejected(service, kafka_settings, topic, response, 415, "unsupported_content_type")


async def test_livemode_event_on_a_test_endpoint(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service()
    body = make_event(livemode=True)
    response = await post(service, body, sign(body))
    await _rejected(service, kafka_settings, topic, response, 400, "livemode_mismatch")
    assert "live-mode event sent to a test-mode endpoint" in response.json()["error"]["message"]


async def test_test_event_on_a_live_endpoint(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service(WEBHOOK_INGEST_LIVEMODE=True)
    body = make_event(livemode=False)
    response = await post(service, body, sign(body))
    await _rejected(service, kafka_settings, topic, response, 400, "livemode_mismatch")


def _raw_exchange(url: str, head: bytes, chunks: list[bytes]) -> tuple[bytes, int]:
    """Send `head`, then chunks while the server lets us; (its answer, body bytes it took)."""
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            sock.settimeout(0.05)
            try:
                peek = sock.recv(65536, socket.MSG_PEEK)
            except TimeoutError:
                peek = b""
            sock.settimeout(10)
            if peek:
                break
        answer = b""
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
    return answer, sent


async def test_oversized_body_refused_before_it_is_read(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service(WEBHOOK_INGEST_MAX_BODY_BYTES=64 * 1024)
    declared = 2 * 1024 * 1024
    head = (
        b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Stripe-Signature: t=1,v1=00\r\nContent-Length: %d\r\n\r\n" % declared
    )
    # The declared size alone is enough: the answer comes with none of the body sent, and the
    # connection is closed rather than drained.
    answer, sent = await asyncio.to_thread(_raw_exchange, service.url, head, [])
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"connection: close" in answer.lower()
    assert b"body_too_large" in answer
    assert sent == 0
    await _rejected_metrics_and_topic(service, kafka_settings, topic)


async def test_oversized_chunked_body_refused_while_streaming(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    limit = 64 * 1024
    service = start_service(WEBHOOK_INGEST_MAX_BODY_BYTES=limit)
    head = (
        b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Stripe-Signature: t=1,v1=00\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"x" * 16 * 1024
    chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
    total_chunks = 64  # 1 MiB offered in all
    answer, sent = await asyncio.to_thread(_raw_exchange, service.url, head, [chunk] * total_chunks)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"body_too_large" in answer
    # Refused soon after the limit, far from the whole 1 MiB.
    assert sent < 8 * limit, sent
    await _rejected_metrics_and_topic(service, kafka_settings, topic)


async def _rejected_metrics_and_topic(
    service: Running, kafka_settings: KafkaSettings, topic: str
) -> None:
    error = "body_too_large"
    assert rejected_count(error) == service.rejected_before.get(error, 0.0) + 1
    await assert_topic_empty(kafka_settings, topic)


async def test_body_at_the_limit_is_accepted(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    limit = 64 * 1024
    service = start_service(WEBHOOK_INGEST_MAX_BODY_BYTES=limit)
    body = make_event(obj={"id": "cs_test_big", "object": "checkout.session", "pad": ""})
    body = body.replace(b'"pad": ""', b'"pad": "' + b"p" * (limit - len(body)) + b'"')
    assert len(body) == limit
    response = await post(service, body, sign(body))
    assert response.status_code == 200, response.text
    [record] = await wait_for_records(kafka_settings, topic, 1)
    assert record.value == body


# --- concurrency, health, metrics -------------------------------------------------------------


async def test_200_concurrent_distinct_events_each_published_once(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service()
    bodies = [make_event(event_id=f"evt_conc_{i:03d}") for i in range(200)]
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=service.url, timeout=30, limits=limits) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    "/webhooks/stripe",
                    content=b,
                    headers={"Content-Type": JSON, "Stripe-Signature": sign(b)},
                )
                for b in bodies
            )
        )
    assert [r.status_code for r in responses] == [200] * 200
    # Every 200 was given once the broker held its record: the topic is complete now.
    records = await read_topic(kafka_settings, topic)
    ids = [r.header(h.STRIPE_EVENT_ID) for r in records]
    assert len(records) == 200
    assert sorted(ids) == sorted(f"evt_conc_{i:03d}" for i in range(200))
    assert {r.value for r in records} == set(bodies)
    assert all(_key_matches(r) for r in records)


def _key_matches(record: Message) -> bool:
    assert record.value is not None
    return record.key == json.loads(record.value)["data"]["object"]["id"].encode()


async def test_health_readiness_and_metrics(
    start_service: Callable[..., Running], kafka_settings: KafkaSettings, topic: str
) -> None:
    service = start_service()
    body = make_event()
    assert (await post(service, body, sign(body))).status_code == 200
    assert (await post(service, body, None)).status_code == 400
    async with httpx.AsyncClient(base_url=service.url, timeout=10) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        text = (await client.get("/metrics")).text
        assert (await client.get("/webhooks/stripe")).status_code == 405
    assert "webhook_ingest_received_total" in text
    assert "webhook_ingest_published_total" in text
    assert 'webhook_ingest_rejected_total{reason="missing_signature"}' in text
    assert "webhook_ingest_publish_seconds_bucket" in text


async def test_rejection_is_logged_with_its_reason_never_the_secret_or_body(
    start_service: Callable[..., Running],
    kafka_settings: KafkaSettings,
    topic: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    service = start_service()
    marker = "very-private-customer-detail"
    body = make_event(obj={"id": "cs_test_log", "object": "checkout.session", "note": marker})
    response = await post(service, body, sign(body, OTHER_SECRET))
    assert response.status_code == 400
    captured: list[str] = []

    async def logged() -> bool:  # the line goes out at the end of the loop turn that wrote it
        out, err = capfd.readouterr()
        captured.append(out + err)
        return "webhook.rejected" in "".join(captured)

    await eventually(logged, what="the rejection's log line")
    logs = "".join(captured)
    assert "webhook.rejected" in logs
    assert "signature_mismatch" in logs
    assert marker not in logs
    assert SECRET not in logs
    assert OTHER_SECRET not in logs
    await assert_topic_empty(kafka_settings, topic)
