"""The product's HTTP protocol (backbone.http_server.LimitedHttpProtocol) on a real uvicorn server:
an app's early answer goes out from the request's head, without the app being called, the body
that follows is dropped, the connection serves on, and answers keep to request order."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from backbone import http_server

EARLY = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\nretry-after: 1\r\n\r\nshed"


class App:
    """Answers /shed early while `shedding`; every request that reaches ASGI is recorded and
    answered 200 with its body, after `release` is set for /slow."""

    def __init__(self) -> None:
        self.shedding = True
        self.called: list[str] = []
        self.release = threading.Event()

    def early_answer(
        self, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]]
    ) -> bytes | None:
        return EARLY if self.shedding and url == b"/shed" else None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.called.append(scope["path"])
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/slow":
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 10)
        head = [(b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": body})


@contextmanager
def served(app: App) -> Iterator[int]:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", access_log=False, **http_server.server_options()
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        assert thread.is_alive(), "server thread ended"
        time.sleep(0.01)
    try:
        yield int(sock.getsockname()[1])
    finally:
        app.release.set()
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def _request(path: bytes, body: bytes, *, extra: bytes = b"") -> bytes:
    return b"POST %s HTTP/1.1\r\nhost: t\r\n%scontent-length: %d\r\n\r\n%s" % (
        path,
        extra,
        len(body),
        body,
    )


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status_line, *lines = head[:-4].split(b"\r\n")
    fields = dict(line.split(b":", 1) for line in lines)
    length = int(fields[b"content-length"])
    return int(status_line.split()[1]), await asyncio.wait_for(reader.readexactly(length), 10)


async def test_an_early_answer_skips_the_app_drops_the_body_and_the_connection_serves_on() -> None:
    app = App()
    with served(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = b"x" * 20_000  # several reads' worth, all dropped
        writer.write(_request(b"/shed", body))
        assert await _response(reader) == (503, b"shed")
        writer.write(_request(b"/next", b"kept"))
        assert await _response(reader) == (200, b"kept")
        assert app.called == ["/next"]  # the shed request never reached the app
        app.shedding = False
        writer.write(_request(b"/shed", b"served"))
        assert await _response(reader) == (200, b"served")
        writer.close()
    assert app.called == ["/next", "/shed"]


async def test_no_early_answer_overtakes_a_response_still_under_way() -> None:
    app = App()
    with served(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # Pipelined in one write (one read at the server): /shed's head is parsed while /slow
        # is under way, so it waits its turn and the app serves it (an answer written then
        # would have gone out before /slow's).
        writer.write(_request(b"/slow", b"first") + _request(b"/shed", b"second"))
        app.release.set()
        assert await _response(reader) == (200, b"first")
        assert await _response(reader) == (200, b"second")
        writer.close()
    assert app.called == ["/slow", "/shed"]


async def test_a_request_that_closes_its_connection_is_served_as_usual() -> None:
    """No early answer where the connection closes after it: the client may still be sending
    the body, and a close then could cut off the answer."""
    app = App()
    with served(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_request(b"/shed", b"last", extra=b"connection: close\r\n"))
        assert await _response(reader) == (200, b"last")
        writer.close()
    assert app.called == ["/shed"]
