"""Stripe's error codes on bad requests, and which answers an Idempotency-Key keeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

ITEM: Any = {
    "price_data": {"currency": "usd", "unit_amount": 900, "product_data": {"name": "Beat"}},
    "quantity": 1,
}


def _code(call: Callable[[], Any]) -> tuple[str | None, str | None]:
    with pytest.raises(stripe.InvalidRequestError) as err:
        call()
    return err.value.code, err.value.param


def test_parameter_errors_carry_stripes_codes(
    client: stripe.StripeClient, make_session: Callable[..., Any]
) -> None:
    sessions = client.v1.checkout.sessions
    assert _code(lambda: make_session(bogus="1")) == ("parameter_unknown", "bogus")
    assert _code(lambda: sessions.create(params={"line_items": [ITEM]})) == (
        "parameter_missing",
        "mode",
    )
    assert _code(lambda: make_session(mode="")) == ("parameter_invalid_empty", "mode")
    bad_quantity: Any = [{**ITEM, "quantity": "two"}]
    assert _code(lambda: make_session(line_items=bad_quantity)) == (
        "parameter_invalid_integer",
        "line_items[0][quantity]",
    )
    assert _code(lambda: sessions.list(params={"limit": 0})) == (
        "parameter_invalid_integer",
        "limit",
    )
    assert _code(lambda: sessions.retrieve("cs_test_nope")) == ("resource_missing", "session")
    assert _code(lambda: client.v1.refunds.create(params={})) == (
        "parameter_missing",
        "payment_intent",
    )


def test_a_request_that_failed_validation_is_not_kept_under_its_key(
    client: stripe.StripeClient,
) -> None:
    opts: Any = {"idempotency_key": "cart-7"}
    bad: Any = {"mode": "payment", "line_items": [{**ITEM, "quantity": "0"}]}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.create(params=bad, options=opts)
    good: Any = {"mode": "payment", "line_items": [ITEM]}
    session = client.v1.checkout.sessions.create(params=good, options=opts)  # runs: no replay
    assert session.status == "open"
    assert client.v1.checkout.sessions.create(params=good, options=opts).id == session.id
    with pytest.raises(stripe.IdempotencyError):  # kept now: other parameters are refused
        client.v1.checkout.sessions.create(params=bad, options=opts)
