"""Fixtures: webhook-ingest served for real by uvicorn over HTTP, signed Stripe-like events."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn

from backbone import http_server
from backbone.kafka import ensure_topics
from backbone.settings import KafkaSettings
from webhook_ingest.app import IngestApp, create_app
from webhook_ingest.settings import IngestSettings

SECRET = "whsec_test_primary_0123456789abcdef"
OLD_SECRET = "whsec_test_previous_fedcba9876543210"
OTHER_SECRET = "whsec_test_someone_else_0000000000"


def sign(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    """A Stripe-Signature value, computed as Stripe documents it."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def make_event(
    event_type: str = "checkout.session.completed",
    obj: dict[str, Any] | None = None,
    *,
    livemode: bool = False,
    event_id: str | None = None,
) -> bytes:
    """A Stripe-shaped event as Stripe renders it (indented, non-ASCII kept as UTF-8)."""
    if obj is None:
        obj = {
            "id": f"cs_test_{uuid.uuid4().hex}",
            "object": "checkout.session",
            "payment_status": "paid",
            "metadata": {"type": "reservation_payment", "note": "Café ☕ séance"},
        }
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    return json.dumps(event, indent=2, ensure_ascii=False).encode("utf-8")


@dataclass
class Running:
    """A service served on a real port."""

    url: str
    settings: IngestSettings
    server: uvicorn.Server
    app: IngestApp
    rejected_before: dict[str, float] = field(default_factory=dict)


@contextmanager
def serve(settings: IngestSettings, kafka: KafkaSettings) -> Iterator[Running]:
    """Serve the service in a thread (its own event loop), as `python -m webhook_ingest` would
    (the same HTTP protocol and limits, one process)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(settings, kafka)
    config = uvicorn.Config(
        app,
        loop="uvloop",
        lifespan="on",
        log_level="warning",
        access_log=False,
        **http_server.server_options(),  # the product's protocol: limits, early answers
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("webhook-ingest did not start")
        time.sleep(0.01)
    try:
        yield Running(f"http://127.0.0.1:{port}", settings, server, app, _rejected_counts())
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def _rejected_counts() -> dict[str, float]:
    from prometheus_client import REGISTRY

    counts: dict[str, float] = {}
    for family in REGISTRY.collect():
        if family.name == "webhook_ingest_rejected":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    counts[sample.labels["reason"]] = sample.value
    return counts


def ingest_settings(topic: str, **overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "WEBHOOK_INGEST_TOPIC": topic,
        "WEBHOOK_INGEST_PUBLISH_TIMEOUT_S": 3.0,
        "WEBHOOK_INGEST_RETRY_AFTER_S": 2,
    }
    values.update(overrides)
    return IngestSettings(**values)


@pytest.fixture
def topic(unique: str) -> str:
    return f"stripe.events.{unique}"


@pytest.fixture
async def start_service(
    kafka_settings: KafkaSettings, topic: str
) -> AsyncIterator[Callable[..., Running]]:
    """Start the service on the session broker with a fresh topic (settings overridable)."""
    await ensure_topics(kafka_settings, {topic: 6})
    stack: list[Any] = []

    def start(**overrides: Any) -> Running:
        cm = serve(ingest_settings(topic, **overrides), kafka_settings)
        running = cm.__enter__()
        stack.append(cm)
        return running

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)
