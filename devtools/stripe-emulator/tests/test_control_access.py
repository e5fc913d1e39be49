"""The control API answers loopback clients only, unless allowed remotely; never the secret."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from stripe_emulator import EmulatorSettings, create_app

from .conftest import API_KEY, wait_for


def _own_address() -> str | None:
    """A non-loopback address of this machine, or None when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))  # no packet is sent: this only picks a route
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.fixture(scope="module")
def everywhere() -> Iterator[tuple[EmulatorSettings, int]]:
    """An emulator bound to every interface, as in a container."""
    sock = socket.socket()
    sock.bind(("0.0.0.0", 0))  # every interface: the point of the test
    port = sock.getsockname()[1]
    settings = EmulatorSettings(host="0.0.0.0", port=port)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=10, what="the emulator to start")
    yield settings, port
    server.should_exit = True
    thread.join(timeout=5)
    sock.close()


def test_control_api_is_for_loopback_clients_unless_allowed(
    everywhere: tuple[EmulatorSettings, int],
) -> None:
    settings, port = everywhere
    address = _own_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    remote = f"http://{address}:{port}"
    assert httpx.get(f"{remote}/_emulator/webhook").status_code == 404
    assert httpx.post(f"{remote}/_emulator/faults", json={}).status_code == 404
    assert httpx.post(f"{remote}/_emulator/refunds", json={}).status_code == 404
    api = httpx.get(f"{remote}/v1/events", headers={"Authorization": f"Bearer {API_KEY}"})
    assert api.status_code == 200  # the Stripe API itself stays reachable
    local = httpx.get(f"http://127.0.0.1:{port}/_emulator/webhook")
    assert local.status_code == 200
    settings.control_allow_remote = True
    try:
        assert httpx.get(f"{remote}/_emulator/webhook").status_code == 200
    finally:
        settings.control_allow_remote = False


def test_allow_remote_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert EmulatorSettings().control_allow_remote is False
    monkeypatch.setenv("STRIPE_EMULATOR_CONTROL_ALLOW_REMOTE", "true")
    assert EmulatorSettings().control_allow_remote is True


def test_webhook_settings_answer_no_secret(everywhere: tuple[EmulatorSettings, int]) -> None:
    _, port = everywhere
    shown = httpx.get(f"http://127.0.0.1:{port}/_emulator/webhook").json()
    assert shown == {"urls": [], "enabled_events": ["*"], "secret_configured": True}
