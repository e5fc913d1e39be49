"""The reservation's own errors mapped to the shared shape (backbone.web maps the rest)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from backbone.auth import AuthError
from backbone.web import error_body
from reservation.service_layer.errors import (
    BookingError,
    NotCancellable,
    NotPayable,
    ReservationNotFound,
    SlotTaken,
)
from reservation.service_layer.quotas import QuotaExceeded


def error_response(
    status: int, code: str, message: str, *, retryable: bool = False, **extra: Any
) -> JSONResponse:
    """The one error shape; `extra` adds context such as the offending field or id."""
    return JSONResponse(error_body(code, message, retryable=retryable, **extra), status_code=status)


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""

    @app.exception_handler(BookingError)
    async def booking(_: Request, exc: BookingError) -> JSONResponse:
        message = f"{exc.field}: {exc.message}"
        return error_response(422, "invalid_request", message, field=exc.field)

    @app.exception_handler(AuthError)
    async def auth(_: Request, exc: AuthError) -> JSONResponse:
        response = error_response(
            503 if exc.retryable else 401, exc.code, exc.message, retryable=exc.retryable
        )
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(QuotaExceeded)
    async def quota(_: Request, exc: QuotaExceeded) -> JSONResponse:
        response = error_response(
            429, exc.code, exc.message, retryable=True, retry_after_s=exc.retry_after_s
        )
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.exception_handler(ReservationNotFound)
    async def not_found(_: Request, exc: ReservationNotFound) -> JSONResponse:
        return error_response(
            404, "reservation_not_found", str(exc), reservation_id=exc.reservation_id
        )

    @app.exception_handler(SlotTaken)
    async def taken(_: Request, exc: SlotTaken) -> JSONResponse:
        return error_response(409, "slot_taken", str(exc), slot=exc.slot)

    @app.exception_handler(NotCancellable)
    async def not_cancellable(_: Request, exc: NotCancellable) -> JSONResponse:
        return error_response(409, "not_cancellable", str(exc), reservation_id=exc.reservation_id)

    @app.exception_handler(NotPayable)
    async def not_payable(_: Request, exc: NotPayable) -> JSONResponse:
        return error_response(409, "not_payable", str(exc), reservation_id=exc.reservation_id)
