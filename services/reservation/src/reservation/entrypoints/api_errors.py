"""Every error a caller can act on, mapped once to {"error": {"code", "message", "retryable"}}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from backbone.auth import AuthError
from reservation.service_layer.errors import (
    BookingError,
    NotCancellable,
    NotPayable,
    ReservationNotFound,
    SlotTaken,
)


def error_response(
    status: int, code: str, message: str, *, retryable: bool = False, **extra: Any
) -> JSONResponse:
    """The one error shape; `extra` adds context such as the offending field or id."""
    body = {"code": code, "message": message, "retryable": retryable, **extra}
    return JSONResponse({"error": body}, status_code=status)


def _field_of(error: dict[str, Any]) -> str:
    location = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
    return ".".join(location) or "body"


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        field = _field_of(first)
        message = f"{field}: {first.get('msg', 'invalid')}"
        return error_response(422, "invalid_request", message, field=field)

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

    @app.exception_handler(HTTPException)
    async def http(_: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        return error_response(500, "internal_error", "an unexpected error", retryable=True)
