"""/healthz, /readyz and /metrics, served by uvicorn inside the Faust worker's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator
from typing import Any

import uvicorn
from fastapi import FastAPI, Response
from mode import Service
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backbone.logging import get_logger

log = get_logger(__name__)
READY_TIMEOUT_S = 2.0


def create_http_app(engine: AsyncEngine) -> FastAPI:
    """The worker's small HTTP surface (Faust's own web server stays off)."""
    api = FastAPI(title="notifier", docs_url=None, redoc_url=None, openapi_url=None)

    @api.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process and its event loop answer."""
        return {"status": "ok"}

    @api.get("/readyz")
    async def readyz(response: Response) -> dict[str, str]:
        """Readiness: the notifier's database answers."""
        try:
            async with asyncio.timeout(READY_TIMEOUT_S), engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            response.status_code = 503
            return {"status": "unavailable", "database": type(exc).__name__}
        return {"status": "ok", "database": "ok"}

    @api.get("/metrics")
    async def metrics() -> Response:
        """Prometheus exposition: notifier_notifications_total and the consumer metrics."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return api


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the Faust worker owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def http_service(api: FastAPI, host: str, port: int) -> type[Any]:
    """A mode Service class (what `app.service` takes) serving `api` on host:port."""

    class NotifierHttp(Service):  # type: ignore[misc]
        """Starts with the Faust app, stops with it."""

        _server: _Server | None = None
        _task: asyncio.Task[None] | None = None

        async def on_start(self) -> None:
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            config = uvicorn.Config(api, log_level="warning", lifespan="off")
            self._server = _Server(config)
            self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
            self._task.add_done_callback(lambda _: sock.close())
            log.info("http.listening", host=host, port=sock.getsockname()[1])

        async def on_stop(self) -> None:
            if self._server is not None and self._task is not None:
                self._server.should_exit = True
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._task, timeout=5)

    return NotifierHttp
