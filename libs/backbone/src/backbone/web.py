"""FastAPI plumbing every HTTP service shares: request ids, typed errors mapped once, metrics."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"


class ApiError(Exception):
    """An error the caller can act on: a stable code, a message, and whether a retry may help."""

    def __init__(
        self, status: int, code: str, message: str, *, retryable: bool = False, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retryable = retryable
        self.extra = extra
        self.headers: dict[str, str] = {}


def error_body(code: str, message: str, *, retryable: bool, **extra: Any) -> dict[str, Any]:
    """The one error shape: {"error": {"code", "message", "retryable", ...}}."""
    return {"error": {"code": code, "message": message, "retryable": retryable, **extra}}


async def _api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    body = error_body(exc.code, exc.message, retryable=exc.retryable, **exc.extra)
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = [
        {"field": ".".join(str(p) for p in err["loc"] if p != "body"), "message": err["msg"]}
        for err in exc.errors()
    ]
    summary = "; ".join(f"{f['field'] or 'body'}: {f['message']}" for f in fields)
    body = error_body("invalid_request", summary, retryable=False, fields=fields)
    return JSONResponse(body, status_code=422)


class RequestIdMiddleware:
    """Takes the caller's X-Request-ID (or makes one), binds it to every log line, echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER.encode())
        request_id = raw.decode("latin-1")[:128] if raw else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append(
                    (REQUEST_ID_HEADER.encode(), request_id.encode("latin-1"))
                )
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)


async def _metrics(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> FastAPI:
    """Request ids, the error mapping and GET /metrics on `app`."""
    app.add_middleware(RequestIdMiddleware)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_route("/metrics", _metrics, methods=["GET"], include_in_schema=False)
    return app
