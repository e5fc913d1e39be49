"""MailSink: the SMTP server and the HTTP API together, embeddable in a running event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Generator
from dataclasses import replace
from types import TracebackType

import uvicorn

from mail_sink.api import create_app
from mail_sink.faults import Faults
from mail_sink.settings import Settings
from mail_sink.smtp import SinkHandler, SmtpServer
from mail_sink.store import MessageStore, StoredMessage

log = logging.getLogger("mail_sink")
START_TIMEOUT = 10.0


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the host process owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class MailSink:
    """Runs both servers; `async with MailSink(smtp_port=0, http_port=0) as sink:` in tests."""

    def __init__(self, settings: Settings | None = None, **overrides: object) -> None:
        self.settings = replace(settings or Settings(), **overrides)  # type: ignore[arg-type]
        self.store = MessageStore(self.settings.max_messages)
        self.faults = Faults()
        self.smtp = SmtpServer(self.settings, SinkHandler(self.store, self.faults))
        self.app = create_app(self.store, self.faults, ready=lambda: self.smtp.running)
        self._http: _EmbeddedServer | None = None
        self._http_task: asyncio.Task[None] | None = None
        self.http_port: int | None = None

    @property
    def smtp_port(self) -> int:
        """The bound SMTP port (the last one, if SMTP is currently stopped)."""
        if self.smtp.port is None:
            raise RuntimeError("MailSink has not been started")
        return self.smtp.port

    @property
    def http_url(self) -> str:
        """Base URL of the HTTP API."""
        if self.http_port is None:
            raise RuntimeError("MailSink has not been started")
        return f"http://{self.settings.http_host}:{self.http_port}"

    async def start(self) -> None:
        """Bind both listeners (port 0 picks a free one) and wait until they serve."""
        await self.smtp.start()
        try:
            await self._start_http()
        except BaseException:
            await self.smtp.stop()
            raise

    async def _start_http(self) -> None:
        host, port = self.settings.http_host, self.settings.http_port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        self.http_port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2
        )
        self._http = _EmbeddedServer(config)
        self._http_task = asyncio.create_task(self._http.serve(sockets=[sock]))
        self._http_task.add_done_callback(lambda _: sock.close())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while not self._http.started:
            if self._http_task.done():
                self._http_task.result()
                raise RuntimeError("HTTP server exited during start-up")
            if loop.time() > deadline:
                raise TimeoutError("HTTP server did not start in time")
            await asyncio.sleep(0.01)
        log.info("HTTP API on %s", self.http_url)

    async def stop(self) -> None:
        """Stop both listeners; stored messages are discarded with the object."""
        await self.smtp.stop()
        if self._http is not None and self._http_task is not None:
            self._http.should_exit = True
            await self._http_task
            self._http = self._http_task = None

    async def stop_smtp(self) -> None:
        """Take only SMTP down (clients get connection refused); the API keeps serving."""
        await self.smtp.stop()

    async def start_smtp(self) -> None:
        """Bring SMTP back on the same port as before."""
        await self.smtp.start(self.smtp.port)

    async def wait_for(
        self,
        predicate: Callable[[list[StoredMessage]], bool] | int,
        within: float = 10.0,
    ) -> list[StoredMessage]:
        """Poll the store until `predicate(messages)` holds (or at least N are kept)."""
        check = (lambda ms: len(ms) >= predicate) if isinstance(predicate, int) else predicate
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            messages = self.store.newest_first()
            if check(messages):
                return messages
            if loop.time() > deadline:
                raise TimeoutError(f"mail sink condition not met within {within}s")
            await asyncio.sleep(0.02)

    async def __aenter__(self) -> MailSink:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
