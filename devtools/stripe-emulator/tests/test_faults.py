"""The fault API: which calls fail, for how long, and whether the work was done before failing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import stripe

from .conftest import API_KEY, wait_for

ITEMS: Any = [
    {
        "price_data": {"currency": "usd", "unit_amount": 900, "product_data": {"name": "Beat"}},
        "quantity": 1,
    }
]


def _fault(control: httpx.Client, **body: Any) -> dict[str, Any]:
    response = control.post("/_emulator/faults", json=body)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def _create(client: stripe.StripeClient, key: str) -> Any:
    opts: Any = {"idempotency_key": key}
    return client.v1.checkout.sessions.create(
        params={"mode": "payment", "line_items": ITEMS}, options=opts
    )


def _count_sessions(client: stripe.StripeClient) -> int:
    return len(client.v1.checkout.sessions.list(params={"limit": 100}).data)


def test_path_prefix_and_until_cleared(
    client: stripe.StripeClient, control: httpx.Client, make_session: Callable[..., Any]
) -> None:
    shown = _fault(control, api_status=503, count=None, path_prefix="/v1/refunds")
    assert shown == {
        "api_status": 503,
        "count": None,
        "delay_seconds": 0.0,
        "path_prefix": "/v1/refunds",
        "after_execute": False,
    }
    make_session()  # another path: unaffected
    for _ in range(3):
        with pytest.raises(stripe.APIError) as err:
            client.v1.refunds.retrieve("re_any")
        assert err.value.http_status == 503
    assert control.get("/_emulator/faults").json()["count"] is None  # still on
    assert control.delete("/_emulator/faults").json()["count"] == 0
    with pytest.raises(stripe.InvalidRequestError):  # a real answer again: no such refund
        client.v1.refunds.retrieve("re_any")


def test_count_zero_clears(client: stripe.StripeClient, control: httpx.Client) -> None:
    _fault(control, api_status=500, count=5)
    assert _fault(control, count=0)["count"] == 0
    assert client.v1.checkout.sessions.list().data == []


def test_after_execute_keeps_the_500_under_the_key(
    client: stripe.StripeClient, control: httpx.Client
) -> None:
    _fault(control, api_status=500, count=1, after_execute=True)
    with pytest.raises(stripe.APIError) as first:
        _create(client, "cart-1")
    assert first.value.http_status == 500
    assert _count_sessions(client) == 1  # done, although the answer was a 500
    with pytest.raises(stripe.APIError) as again:  # the fault is spent: this is Stripe's replay
        _create(client, "cart-1")
    assert again.value.http_status == 500
    assert again.value.headers is not None
    assert again.value.headers.get("Idempotent-Replayed") == "true"
    assert _count_sessions(client) == 1
    assert _create(client, "cart-2").status == "open"  # another key runs


def test_before_execute_creates_nothing_and_keeps_nothing(
    client: stripe.StripeClient, control: httpx.Client
) -> None:
    _fault(control, api_status=502, count=1)
    with pytest.raises(stripe.APIError) as err:
        _create(client, "cart-1")
    assert err.value.http_status == 502
    assert _count_sessions(client) == 0
    assert _create(client, "cart-1").status == "open"  # the retry runs


def test_client_that_gives_up_still_gets_its_session_made(
    emulator_url: str, client: stripe.StripeClient, control: httpx.Client
) -> None:
    impatient = stripe.StripeClient(
        API_KEY,
        base_addresses={"api": emulator_url},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=0.5),
    )
    _fault(control, api_status=None, count=1, delay_seconds=2)
    with pytest.raises(stripe.APIConnectionError):
        _create(impatient, "cart-lost")
    made = wait_for(lambda: client.v1.checkout.sessions.list().data, what="the session")
    assert len(made) == 1
    assert _create(client, "cart-lost").id == made[0].id  # the retry gets the lost answer


def test_concurrent_call_with_a_key_in_use_gets_409(
    emulator_url: str, client: stripe.StripeClient, control: httpx.Client
) -> None:
    _fault(control, api_status=500, count=1, delay_seconds=3)
    outcome: list[int | None] = []

    def first() -> None:
        try:
            _create(client, "cart-busy")
        except stripe.APIError as exc:
            outcome.append(exc.http_status)

    thread = threading.Thread(target=first)
    thread.start()
    wait_for(lambda: control.get("/_emulator/faults").json()["count"] == 0, what="first call")
    started = time.monotonic()
    response = httpx.post(
        f"{emulator_url}/v1/checkout/sessions",
        headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "cart-busy"},
        data={
            "mode": "payment",
            "line_items[0][price_data][currency]": "usd",
            "line_items[0][price_data][unit_amount]": "900",
            "line_items[0][price_data][product_data][name]": "Beat",
            "line_items[0][quantity]": "1",
        },
    )
    assert time.monotonic() - started < 3  # answered at once, not after the first
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_use"
    thread.join(timeout=30)
    assert outcome == [500]
    assert _count_sessions(client) == 0  # neither the 409 nor the failed call kept anything
    assert _create(client, "cart-busy").status == "open"


def test_webhook_settings_never_show_the_secret(control: httpx.Client) -> None:
    shown = control.get("/_emulator/webhook").json()
    assert shown["secret_configured"] is True
    assert "secret" not in shown
    assert "whsec_" not in control.post("/_emulator/webhook", json={"secret": "whsec_x"}).text
