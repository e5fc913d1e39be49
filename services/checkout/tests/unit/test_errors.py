"""Each typed error maps to one status and code; Stripe trouble is retryable, refusals are not."""

from __future__ import annotations

import pytest

from backbone.auth import AuthError
from checkout.adapters.reservations import ReservationRefused, ReservationServiceUnavailable
from checkout.adapters.stripe_gateway import StripeRefused, StripeUnavailable
from checkout.entrypoints.errors import as_api_error
from checkout.service_layer.errors import CartItemNotFound, CheckoutInProgress


@pytest.mark.parametrize(
    ("exc", "status", "code", "retryable"),
    [
        (AuthError("missing_token", "no"), 401, "missing_token", False),
        (AuthError("auth_unavailable", "no"), 503, "auth_unavailable", True),
        (CartItemNotFound("beat_x"), 404, "cart_item_not_found", False),
        (ReservationRefused(409, "not_payable", "m", "r1"), 409, "not_payable", False),
        (ReservationServiceUnavailable("x"), 503, "reservation_service_unavailable", True),
        (StripeUnavailable("unreachable", "m"), 503, "payment_provider_unreachable", True),
        (StripeUnavailable("timeout", "m"), 504, "payment_provider_timeout", True),
        (StripeUnavailable("server_error", "m"), 502, "payment_provider_server_error", True),
        (StripeUnavailable("rate_limited", "m", 2.5), 503, "payment_provider_rate_limited", True),
        (
            StripeRefused(402, "card_declined", "Your card was declined."),
            402,
            "card_declined",
            False,
        ),
        (CheckoutInProgress("wait"), 409, "checkout_in_progress", True),
        (RuntimeError("boom"), 500, "internal_error", True),
    ],
)
def test_mapping(exc: Exception, status: int, code: str, retryable: bool) -> None:
    error = as_api_error(exc)
    assert (error.status, error.code, error.retryable) == (status, code, retryable)


def test_rate_limit_says_when_to_retry() -> None:
    assert as_api_error(StripeUnavailable("rate_limited", "m", 2.5)).headers["Retry-After"] == "3"


def test_stripe_message_is_passed_through() -> None:
    assert as_api_error(StripeRefused(400, "x", "Stripe says no")).message == "Stripe says no"
