"""Every error a caller can act on, mapped once to {"error": {"code", "message", "retryable"}}."""

from __future__ import annotations

import math

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from backbone.auth import AuthError
from backbone.logging import get_logger
from backbone.web import ApiError, error_body
from checkout.service_layer.errors import (
    CartItemNotFound,
    CheckoutInProgress,
    EmailRequired,
    OrderError,
    ReservationRefused,
    ReservationServiceUnavailable,
    SessionNotFound,
    StripeRefused,
    StripeUnavailable,
)

log = get_logger(__name__)

# Which gateway status says what: Stripe unreachable or rate limiting us is "unavailable",
# Stripe answering 5xx is a "bad gateway", Stripe too slow is a "gateway timeout".
_STRIPE_STATUS = {"unreachable": 503, "rate_limited": 503, "server_error": 502, "timeout": 504}


def as_api_error(exc: Exception) -> ApiError:
    """The response of a typed error (ApiError itself passes through)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, AuthError):
        error = ApiError(
            503 if exc.retryable else 401, exc.code, exc.message, retryable=exc.retryable
        )
        error.headers["WWW-Authenticate"] = "Bearer"
        return error
    if isinstance(exc, OrderError):
        if exc.item_id:
            return ApiError(422, exc.code, exc.message, field=exc.field, item_id=exc.item_id)
        return ApiError(422, exc.code, exc.message, field=exc.field)
    if isinstance(exc, EmailRequired):
        return ApiError(422, "email_required", str(exc), field="email")
    if isinstance(exc, CartItemNotFound):
        return ApiError(404, "cart_item_not_found", str(exc), cart_item_id=exc.item_id)
    if isinstance(exc, ReservationRefused):
        return ApiError(exc.status, exc.code, exc.message, reservation_id=exc.reservation_id)
    if isinstance(exc, ReservationServiceUnavailable):
        return ApiError(
            503,
            "reservation_service_unavailable",
            "reservations cannot be checked right now; try again shortly",
            retryable=True,
        )
    if isinstance(exc, StripeUnavailable):
        error = ApiError(
            _STRIPE_STATUS[exc.kind],
            f"payment_provider_{exc.kind}",
            f"{exc.message}; no payment was started, try again shortly",
            retryable=True,
        )
        if exc.retry_after:
            error.headers["Retry-After"] = str(math.ceil(exc.retry_after))
        return error
    if isinstance(exc, StripeRefused):
        return ApiError(exc.status, exc.code, exc.message, param=exc.param)
    if isinstance(exc, CheckoutInProgress):
        error = ApiError(409, "checkout_in_progress", str(exc), retryable=True)
        error.headers["Retry-After"] = "1"
        return error
    if isinstance(exc, SessionNotFound):
        return ApiError(404, "session_not_found", str(exc), session_id=exc.session_id)
    log.exception("api.unhandled_error", error_class=type(exc).__name__)
    return ApiError(500, "internal_error", "something went wrong on our side", retryable=True)


async def _handle(_: Request, exc: Exception) -> Response:
    error = as_api_error(exc)
    body = error_body(error.code, error.message, retryable=error.retryable, **error.extra)
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def install(app: FastAPI) -> None:
    """Register the mapping on `app` (backbone.web maps ApiError and validation errors)."""
    for kind in (
        AuthError,
        OrderError,
        EmailRequired,
        CartItemNotFound,
        ReservationRefused,
        ReservationServiceUnavailable,
        StripeUnavailable,
        StripeRefused,
        CheckoutInProgress,
        SessionNotFound,
        Exception,
    ):
        app.add_exception_handler(kind, _handle)
