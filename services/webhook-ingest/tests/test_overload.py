"""Overload: past WEBHOOK_INGEST_MAX_IN_FLIGHT the excess is shed (503 + Retry-After at once,
nothing read, verified or published) while what was accepted is answered 200 once the broker
acknowledges it, and each 200 is on the topic exactly once.

The in-flight publishes are held by pausing the broker (SIGSTOP): real HTTP, a real service, a
real broker of the test's own (so pausing it disturbs no other test). No timing is asserted
here; how fast the excess is answered under load is the benchmark's (`make bench-ingest`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from backbone.kafka import ensure_topics
from backbone.settings import KafkaSettings
from contracts import headers as h
from devstack.broker import EmbeddedBroker
from devstack.testing import wait_for_records

from .conftest import ingest_settings, make_event, serve, sign

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOPIC = "stripe.events.overload"
MAX_IN_FLIGHT = 8
EXCESS = 20
DEADLINE_S = 60.0  # a bound on waiting, not a timing assertion


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(log_file=tmp_path / "broker.log").start()
    yield broker
    broker.stop()


async def post(
    client: httpx.AsyncClient, body: bytes, signature: str | None = None
) -> httpx.Response:
    return await client.post(
        "/webhooks/stripe",
        content=body,
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": signature if signature is not None else sign(body),
        },
    )


def shed_total() -> float:
    return REGISTRY.get_sample_value("webhook_ingest_shed_total") or 0.0


def event_id(body: bytes) -> str:
    return str(json.loads(body)["id"])


async def test_excess_is_shed_with_retry_after_and_the_accepted_are_published_once(
    own_broker: EmbeddedBroker,
) -> None:
    kafka = KafkaSettings(bootstrap_servers=own_broker.bootstrap_servers, send_timeout_s=30.0)
    await ensure_topics(kafka, {TOPIC: 6})
    settings = ingest_settings(
        TOPIC,
        WEBHOOK_INGEST_PUBLISH_TIMEOUT_S=30.0,
        WEBHOOK_INGEST_MAX_IN_FLIGHT=MAX_IN_FLIGHT,
        WEBHOOK_INGEST_RETRY_AFTER_S=7,
    )
    assert own_broker.pid is not None
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT + EXCESS + 4)
    with serve(settings, kafka) as service:
        async with httpx.AsyncClient(
            base_url=service.url, timeout=DEADLINE_S, limits=limits
        ) as client:
            first = make_event()
            assert (await post(client, first)).status_code == 200  # connected, metadata known
            shed_before = shed_total()

            bodies = {}
            os.kill(own_broker.pid, signal.SIGSTOP)
            try:
                # More than the bound at once: the first MAX_IN_FLIGHT to arrive await the
                # paused broker, every other one is answered while it stays paused.
                for _ in range(MAX_IN_FLIGHT + EXCESS):
                    body = make_event()
                    bodies[asyncio.create_task(post(client, body))] = body
                pending = set(bodies)
                answered: set[asyncio.Task[httpx.Response]] = set()
                while len(answered) < EXCESS:
                    done, pending = await asyncio.wait(
                        pending, timeout=DEADLINE_S, return_when=asyncio.FIRST_COMPLETED
                    )
                    assert done, f"only {len(answered)} answered while the broker is paused"
                    answered |= done
                assert len(answered) == EXCESS
                assert len(pending) == MAX_IN_FLIGHT

                # While still saturated, even an unsigned request is shed before being read.
                unsigned = await post(client, make_event(), signature="")
                assert unsigned.status_code == 503
                assert unsigned.json()["error"]["code"] == "overloaded"
            finally:
                os.kill(own_broker.pid, signal.SIGCONT)

            for task in answered:
                response = task.result()
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"] == "1"  # the shed hint, not the outage one
                assert response.headers["x-request-id"]
                assert response.json()["error"] == {
                    "code": "overloaded",
                    "message": "too many webhooks at once; retry later",
                    "retryable": True,
                }
            assert shed_total() - shed_before == EXCESS + 1

            # The broker is back: every accepted webhook is answered 200 ...
            accepted = await asyncio.gather(*pending)
            assert [r.status_code for r in accepted] == [200] * MAX_IN_FLIGHT
            # ... and the slots are free again.
            after = make_event()
            assert (await post(client, after)).status_code == 200

    published = {event_id(first), event_id(after)} | {event_id(bodies[t]) for t in pending}
    records = await wait_for_records(kafka, TOPIC, len(published))
    on_topic = [r.header(h.STRIPE_EVENT_ID) for r in records]
    assert sorted(on_topic) == sorted(published)  # each once, and no shed one
