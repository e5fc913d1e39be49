"""How every HTTP service runs uvicorn: header size, request-read deadline, keep-alive and a
connection cap, so slow or huge-header clients are cut off instead of holding the server; the
structlog configuration kept; no access log (each service logs what matters itself).

uvicorn bounds idle keep-alive connections and (with limit_concurrency) connections in use, but
neither the size of a request head nor the time a client may take to send it: a client that
trickles a header line every few seconds holds its connection forever. `LimitedHttpProtocol`
adds both on top of uvicorn's httptools protocol.

It also lets an app answer a request from its head alone, before any ASGI machinery runs (no
scope, no task, no body read): an app with an `early_answer(method, url, headers)` method (see
`EarlyAnswer`) returns the whole HTTP response as bytes, or None to serve the request as usual.
webhook-ingest sheds load this way: under overload, a shed request cost 40% of an accepted one
through ASGI, which left less than half of the process's capacity for the accepted ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import uvicorn
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-length: 0\r\nconnection: close\r\n\r\n"
)
_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class ServerLimits(BaseSettings):
    """Limits of an HTTP server (HTTP_*), the same for every service unless set."""

    model_config = SettingsConfigDict(env_prefix="HTTP_", extra="ignore")

    max_header_bytes: int = Field(
        16 * 1024, ge=1024, description="Largest request head (request line and headers)."
    )
    read_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Time a client has to send a whole request (head and body) once it starts; "
        "past it the connection is closed (408 when nothing was answered yet).",
    )
    keep_alive_s: float = Field(5.0, gt=0, description="Idle time before a connection is closed.")
    max_connections: int = Field(
        2048,
        ge=1,
        description="Connections (and requests in progress) served at once; beyond, 503.",
    )


class EarlyAnswer(Protocol):
    """An app that may answer a request from its head alone (LimitedHttpProtocol asks it)."""

    def early_answer(
        self, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]]
    ) -> bytes | None:
        """The whole HTTP/1.1 response to send now (keep-alive: no `connection: close`), or
        None to serve the request as usual. Called on the event loop: must not block."""


def _early_answer_of(app: Any) -> Callable[..., bytes | None] | None:
    """The app's `early_answer`, looking through uvicorn's own wrappers (proxy headers, message
    logging), which keep the app they wrap in `.app`; None when it has none."""
    while app is not None:
        early = getattr(app, "early_answer", None)
        if early is not None:
            return early  # type: ignore[no-any-return]
        if not type(app).__module__.startswith("uvicorn."):
            return None
        app = getattr(app, "app", None)
    return None


class _Answered:
    """The cycle of a request answered from its head: its body, if any, is read and dropped.

    A new one per request: LimitedHttpProtocol tells the request being read from the one before
    it by their cycles' identity (a shared one would count a body as a head)."""

    response_complete = True
    response_started = True
    more_body = True


# Set by server_options; a worker process spawned by uvicorn reads the same environment instead.
_limits: ServerLimits | None = None


def _current_limits() -> ServerLimits:
    global _limits  # noqa: PLW0603 - read once per process, not once per connection
    if _limits is None:
        _limits = ServerLimits()
    return _limits


class LimitedHttpProtocol(HttpToolsProtocol):
    """httptools protocol with a request-head size limit and a deadline for reading a request."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        limits = _current_limits()
        self._max_head = limits.max_header_bytes
        self._read_timeout = limits.read_timeout_s
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_after: object = None  # the cycle before the request being read
        self._head_bytes = 0
        self._early_answer = _early_answer_of(self.app)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.cycle is self._waiting_after:  # reading a head: measured before it is parsed
            end = data.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else end + 4
            if self._head_bytes > self._max_head:
                self.transport.write(_TOO_LARGE)
                self.transport.close()
                return
        super().data_received(data)
        if self.transport.is_closing() or self.cycle is self._waiting_after:
            return
        if not self.cycle.more_body:  # the whole request is in: the app owns the time now
            self._disarm()

    def on_headers_complete(self) -> None:
        early = self._early_answer
        # Only with nothing under way on the connection (answers go out in request order) and
        # on a connection that stays open (a close would cut off the body the client sends).
        if (
            early is not None
            and (self.cycle is None or self.cycle.response_complete)
            and self.parser.should_keep_alive()
        ):
            answer = early(self.parser.get_method(), self.url, self.headers)
            if answer is not None:
                self.cycle = _Answered()  # type: ignore[assignment]
                self.transport.write(answer)
                return
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if isinstance(self.cycle, _Answered):  # its body is dropped; the next request may come
            self.on_response_complete()
            return
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._waiting_after = self.cycle
        self._head_bytes = 0
        self._deadline = self.loop.call_later(self._read_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is self._waiting_after or not self.cycle.response_started:
            self.transport.write(_TIMEOUT)
        self.transport.close()


def server_options(limits: ServerLimits | None = None) -> dict[str, Any]:
    """uvicorn.run / uvicorn.Config options that apply the limits (add host, port and the rest).

    `timeout_keep_alive` closes idle connections; `limit_concurrency` answers 503 past the cap;
    the protocol class bounds the head size and the time to read a request.
    """
    global _limits  # noqa: PLW0603 - the protocol is built by uvicorn, per connection
    limits = _limits = limits or ServerLimits()
    return {
        "http": LimitedHttpProtocol,
        "timeout_keep_alive": limits.keep_alive_s,
        "limit_concurrency": limits.max_connections,
        "h11_max_incomplete_event_size": limits.max_header_bytes,
    }


def uvicorn_options(host: str, port: int, **overrides: Any) -> dict[str, Any]:
    """uvicorn.run options of an HTTP service on host:port: the limits (ServerLimits, HTTP_*), the
    process's own structlog logging, no access log; `overrides` adds or replaces options."""
    return {
        "host": host,
        "port": port,
        "log_config": None,  # keep the structlog configuration
        "access_log": False,  # every rejection and failure gets its own structured line
        **server_options(),  # head size, read deadline, keep-alive, connection cap
        **overrides,
    }


def serve(app: Any, host: str, port: int, **overrides: Any) -> None:
    """Serve `app` (an ASGI app, or an import string with `factory=True`) until SIGINT/SIGTERM."""
    uvicorn.run(app, **uvicorn_options(host, port, **overrides))
