"""The worker's HTTP app (/healthz, /readyz, /metrics), served by uvicorn inside the Faust worker's
event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator
from typing import Any

import uvicorn
from fastapi import FastAPI
from mode import Service
from sqlalchemy.ext.asyncio import AsyncEngine

from backbone import web
from backbone.db import database_probe
from backbone.logging import get_logger

log = get_logger(__name__)


def create_app(engine: AsyncEngine) -> FastAPI:
    """The worker's small HTTP surface (Faust's own web server stays off): /healthz, /readyz
    (the notifier's database answers) and /metrics, the same plumbing as every HTTP service."""
    api = FastAPI(title="notifier", docs_url=None, redoc_url=None, openapi_url=None)
    return web.install(api, ready=database_probe(engine))


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
