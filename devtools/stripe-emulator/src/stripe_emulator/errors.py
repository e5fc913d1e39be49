"""Stripe-shaped errors: one exception type, rendered as {"error": {...}} with Stripe's status."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from stripe_emulator.ids import new_id


class StripeError(Exception):
    """An error the Stripe API would answer with."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, Any] | None = None,
        executed: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.extra = extra or {}
        # Whether the request got as far as doing something: only such answers are kept under an
        # Idempotency-Key. A 400 is a validation failure unless said otherwise; 5xx are kept.
        self.executed = status >= 500 if executed is None else executed

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        """The JSON body Stripe sends for this error."""
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        if request_id is not None:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        error.update(self.extra)
        return {"error": error}


def missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    """The 404 Stripe answers for an unknown id."""
    return StripeError(
        f"No such {kind}: '{object_id}'", status=404, code="resource_missing", param=param
    )


def request_id_of(request: Request) -> str:
    """The request id (req_...) given to this request, made on first use."""
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = new_id("req", 14)
        request.state.request_id = rid
    return str(rid)


def error_response(request: Request, exc: StripeError) -> JSONResponse:
    """Render a StripeError with the Request-Id header Stripe sets."""
    rid = request_id_of(request)
    return JSONResponse(exc.body(rid), status_code=exc.status, headers={"Request-Id": rid})


async def stripe_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler for StripeError."""
    assert isinstance(exc, StripeError)
    return error_response(request, exc)


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Unknown URLs and wrong methods under /v1 answer like Stripe; elsewhere plain JSON."""
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path.startswith("/v1/") and exc.status_code in (404, 405):
        return error_response(
            request,
            StripeError(
                f"Unrecognized request URL ({request.method}: {request.url.path}). "
                "This emulator covers only part of Stripe's API.",
                status=404,
            ),
        )
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Bad bodies of the control API: Stripe's error shape, 400."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    loc = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    return error_response(
        request, StripeError(f"Invalid request: {first.get('msg', 'bad input')}", param=loc or None)
    )
