"""FastAPI plumbing every HTTP service shares: request ids, typed errors mapped once, metrics."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backbone import readiness
from backbone.logging import bound_ids, get_logger

log = get_logger(__name__)

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
        {"field": _field_name(err.get("loc", ())), "message": err["msg"]} for err in exc.errors()
    ]
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    first = fields[0]["field"] if fields else "body"
    body = error_body("invalid_request", summary, retryable=False, field=first, fields=fields)
    return JSONResponse(body, status_code=422)


def _field_name(location: Sequence[Any]) -> str:
    """`starts_at`, `items.0.id`: where the input was wrong, without FastAPI's `body.` prefix."""
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = "not_found" if exc.status_code == 404 else "http_error"
    body = error_body(code, str(exc.detail), retryable=exc.status_code >= 500)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _unexpected(_: Request, exc: Exception) -> Response:
    # The traceback goes to the log (with the request id); the caller learns nothing internal.
    log.error("http.unexpected_error", error_class=type(exc).__name__, exc_info=exc)
    body = error_body("internal_error", "an unexpected error", retryable=True)
    return JSONResponse(body, status_code=500)


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

        with bound_ids(request_id=request_id):
            await self.app(scope, receive, send_with_id)


async def _metrics(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


Probe = Callable[[], Awaitable[bool]]


def install(
    app: FastAPI, *, ready: Probe | None = None, max_body_bytes: int = 64 * 1024
) -> FastAPI:
    """Request ids, the body limits, the error mapping, GET /metrics, and GET /healthz and
    /readyz on `app`.

    /healthz answers while the process serves; /readyz asks `ready` (the service's
    dependencies: its database, its broker) and answers 503 while it says no, or while
    something in the process waits out an outage (backbone.readiness, named in the answer).
    """
    from backbone.body_limits import BodyLimitMiddleware

    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(RequestIdMiddleware)  # added last: outermost, so refusals carry the id
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.add_route("/metrics", _metrics, methods=["GET"], include_in_schema=False)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        waiting = readiness.problems()
        try:
            is_ready = ready is None or await ready()
        except Exception:  # a probe that fails means not ready, whatever the failure
            is_ready = False
        if is_ready and not waiting:
            return JSONResponse({"status": "ready"})
        # A consumer or relay of this process waiting out an outage names what it waits for.
        reason = "; ".join(waiting) or "a dependency does not answer"
        body = error_body("not_ready", reason, retryable=True)
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})

    app.add_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.add_route("/readyz", readyz, methods=["GET"], include_in_schema=False)
    return app
