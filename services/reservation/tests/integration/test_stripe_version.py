"""Every Stripe call of the worker and reconcile carries the pinned API version (Stripe-Version)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr

from contracts.stripe import STRIPE_API_VERSION
from devstack.ports import wait_until
from reservation.adapters.stripe_gateway import StripeGateway
from reservation.settings import StripeSettings
from stripe_emulator import EmulatorSettings, create_app

from ..conftest import API_KEY

pytestmark = pytest.mark.integration


class _Noting:
    """The emulator, noting the Stripe-Version header of each /v1 request that reaches it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.versions: list[str | None] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            version = dict(scope.get("headers") or []).get(b"stripe-version")
            self.versions.append(version.decode() if version else None)
        await self.app(scope, receive, send)


@pytest.fixture
def noting_emulator() -> Iterator[tuple[str, _Noting]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = EmulatorSettings(port=port, expiry_sweep_interval=3600)
    noting = _Noting(create_app(settings))
    server = uvicorn.Server(uvicorn.Config(noting, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, what="the emulator")
    yield settings.base_url, noting
    server.should_exit = True
    thread.join(timeout=5)
    sock.close()


async def test_the_pinned_version_goes_with_every_call(
    noting_emulator: tuple[str, _Noting],
) -> None:
    url, noting = noting_emulator
    pinned = StripeGateway(StripeSettings(api_key=SecretStr(API_KEY), api_base=url))
    await pinned.checkout_sessions(created_gte=0)
    await pinned.events(created_gte=0, types=["checkout.session.completed"])
    assert len(noting.versions) == 2
    assert set(noting.versions) == {STRIPE_API_VERSION}

    noting.versions.clear()
    other = StripeGateway(
        StripeSettings(api_key=SecretStr(API_KEY), api_base=url, api_version="2025-03-31.basil")
    )
    await other.checkout_sessions(created_gte=0)
    assert noting.versions == ["2025-03-31.basil"]
