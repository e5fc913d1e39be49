"""Slow and huge-header clients are cut off while a valid webhook is still answered."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from backbone import http_server
from backbone.kafka import ensure_topics
from backbone.settings import KafkaSettings
from devstack.testing import eventually
from webhook_ingest.app import create_app

from .conftest import ingest_settings, make_event, sign

pytestmark = pytest.mark.integration

LIMITS = http_server.ServerLimits(
    max_header_bytes=8 * 1024, read_timeout_s=2.0, keep_alive_s=2.0, max_connections=500
)


@contextlib.contextmanager
def served_with_limits(topic: str, kafka: KafkaSettings) -> Iterator[int]:
    """The service with the production server options (as `python -m webhook_ingest` runs)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app(ingest_settings(topic), kafka),
        loop="uvloop",
        lifespan="on",
        log_level="warning",
        access_log=False,
        **http_server.server_options(LIMITS),
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
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        http_server._limits = None  # other tests build their own servers


async def _slow_loris(port: int, started: list[int], closed: list[bytes]) -> None:
    """Starts a request and trickles one header line at a time, never finishing the head."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /webhooks/stripe HTTP/1.1\r\nHost: ingest\r\n")
    await writer.drain()
    started.append(1)
    try:
        for line in range(1000):
            writer.write(b"X-Slow-%d: 1\r\n" % line)
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                answer = await asyncio.wait_for(reader.read(200), timeout=0.5)
                closed.append(answer)
                return
    except (ConnectionError, OSError):
        closed.append(b"reset")
    finally:
        writer.close()


async def test_slow_clients_are_cut_off_while_a_valid_webhook_is_answered(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    topic = f"stripe.events.{unique}"
    await ensure_topics(kafka_settings, {topic: 1})
    with served_with_limits(topic, kafka_settings) as port:
        started: list[int] = []
        closed: list[bytes] = []
        lorises = [asyncio.create_task(_slow_loris(port, started, closed)) for _ in range(60)]
        await eventually(lambda: _true(len(started) == 60), what="slow clients connected")
        assert closed == []  # all of them still held

        body = make_event()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            answer = await client.post(
                "/webhooks/stripe",
                content=body,
                headers={"Content-Type": "application/json", "Stripe-Signature": sign(body)},
            )
            assert answer.status_code == 200, answer.text

            # Every slow client is cut off by the read deadline, answered 408 or closed.
            await asyncio.wait_for(asyncio.gather(*lorises), timeout=60)
            assert len(closed) == 60
            assert all(c.startswith(b"HTTP/1.1 408") or c in (b"", b"reset") for c in closed)

            huge = await client.post(
                "/webhooks/stripe",
                content=body,
                headers={"Stripe-Signature": sign(body), "X-Padding": "p" * 9000},
            )
            assert huge.status_code == 431


async def _true(value: bool) -> bool:
    return value
