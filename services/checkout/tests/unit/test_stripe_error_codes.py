"""Stripe API errors are counted by a bounded code label (checkout_stripe_errors_total)."""

from __future__ import annotations

import stripe

from checkout.adapters.stripe_gateway import _error_code


def test_stripe_codes_types_and_transport_failures() -> None:
    card = stripe.InvalidRequestError(
        "bad", param="x", code="parameter_invalid_integer", http_status=400
    )
    assert _error_code(card) == "parameter_invalid_integer"
    assert _error_code(TimeoutError()) == "timeout"
    assert _error_code(stripe.APIConnectionError("down")) == "connection_error"
    assert _error_code(stripe.APIError("boom", http_status=502)) == "http_5xx"
