"""Fixtures: the emulator served for real over HTTP, a webhook receiver, and a stripe client."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import stripe
import uvicorn

from stripe_emulator import EmulatorSettings, create_app

SECRET = "whsec_test_emulator_secret"
API_KEY = "sk_test_emulator"


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    """Poll until predicate() is truthy; fail after the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@dataclass
class Received:
    """One webhook POST as the receiver saw it."""

    body: bytes
    signature: str


@dataclass
class Receiver:
    """A real HTTP webhook endpoint that records requests and answers scripted statuses."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered first, then 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self, statuses: list[int] | None = None) -> None:
        with self.lock:
            self.received.clear()
            self.statuses = list(statuses or [])

    def bodies(self) -> list[bytes]:
        with self.lock:
            return [r.body for r in self.received]


def _serve_receiver(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                receiver.received.append(Received(body, self.headers.get("Stripe-Signature", "")))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/stripe"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    server = _serve_receiver(rec)
    yield rec
    server.shutdown()


@pytest.fixture(scope="session")
def emulator_url(receiver: Receiver) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = EmulatorSettings(
        port=port,
        webhook_urls=[receiver.url],
        webhook_secrets=[SECRET],
        webhook_backoff_initial=0.05,
        webhook_backoff_factor=2.0,
        webhook_backoff_max=0.2,
        webhook_max_attempts=4,
        webhook_timeout=2.0,
        min_session_lifetime=0,
        expiry_sweep_interval=0.1,
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=10, what="the emulator to start")
    yield settings.base_url
    server.should_exit = True
    thread.join(timeout=5)
    sock.close()


@pytest.fixture
def control(emulator_url: str, receiver: Receiver) -> Iterator[httpx.Client]:
    """An HTTP client for the control API; state is reset around each test."""
    with httpx.Client(base_url=emulator_url, timeout=5) as http:
        http.post("/_emulator/reset").raise_for_status()
        http.post("/_emulator/webhook", json={"urls": [receiver.url], "secret": SECRET})
        receiver.reset()
        yield http


@pytest.fixture
def client(emulator_url: str, control: httpx.Client) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": emulator_url}, max_network_retries=0)


@pytest.fixture
def make_session(client: stripe.StripeClient) -> Callable[..., Any]:
    def make(**overrides: Any) -> Any:
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 5000,
                        "product_data": {"name": "Mixing session"},
                    },
                    "quantity": 2,
                },
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 2999,
                        "product_data": {"name": "Beat: Night Drive"},
                    },
                    "quantity": 1,
                },
            ],
            "client_reference_id": "user_123",
            "metadata": {"type": "mixed_cart", "reservation_ids": "r1,r2"},
            "success_url": "http://shop.test/success?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://shop.test/cancel",
        }
        params.update(overrides)
        return client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]

    return make


def events_of(receiver: Receiver) -> list[stripe.Event]:
    """Every received webhook, verified with the stripe package's own check."""
    out = []
    for r in list(receiver.received):
        out.append(stripe.Webhook.construct_event(r.body, r.signature, SECRET))
    return out


def wait_for_types(receiver: Receiver, *types: str, timeout: float = 5.0) -> list[stripe.Event]:
    """Wait until every given type was delivered; the verified events."""

    def done() -> list[stripe.Event] | None:
        events = events_of(receiver)
        seen = {e.type for e in events}
        return events if all(t in seen for t in types) else None

    result: list[stripe.Event] = wait_for(done, timeout, what=f"webhooks {types}")
    return result
