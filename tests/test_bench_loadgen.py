"""The benchmark's load generator against a real local HTTP server: a keep-alive connection the
server closed while it sat idle is never written to (the 2026-12-06 `make bench` crashed on one);
the request goes out on a new connection and is answered. A response nobody asked for (the 408 a
server sends to a connection that sat idle before its first request) answers no request (a later
`make bench` crashed on one, recorded with a due time of 0)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from bench.loadgen import Pool
from devstack.testing import eventually

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@contextlib.asynccontextmanager
async def keep_alive_server(
    *, greet_first_with: bytes | None = None
) -> AsyncIterator[tuple[int, list[int]]]:
    """A keep-alive server answering every request with 200; the list counts connections. With
    `greet_first_with`, its first connection gets those bytes before any request, then closes."""
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            if greet_first_with is not None and len(connections) == 1:
                writer.write(greet_first_with)
                await writer.drain()
                return
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(ANSWER)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    listening = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield port, connections


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, list[int]]]:
    async with keep_alive_server() as running:
        yield running


async def test_an_idle_connection_closed_under_it_is_replaced_not_written_to(
    server: tuple[int, list[int]],
) -> None:
    port, connections = server
    pool = Pool("127.0.0.1", port, cap=4)
    request = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n"

    pool.submit(request, 0.0)
    await eventually(lambda: _answered(pool, 1), timeout=5, interval=0.01, what="first answer")
    idle = pool.idle[-1]
    assert idle.transport is not None
    # The server's close arrives: the transport is closing, connection_lost has not run yet.
    idle.transport.close()
    pool.submit(request, 0.0)

    await eventually(lambda: _answered(pool, 2), timeout=5, interval=0.01, what="second answer")
    assert [status for _, _, status in pool.answers] == [200, 200]
    assert len(connections) == 2
    assert pool.outstanding == 0


async def _answered(pool: Pool, count: int) -> bool:
    return len(pool.answers) >= count


async def test_an_unsolicited_408_on_a_fresh_idle_connection_answers_no_request() -> None:
    timeout = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    async with keep_alive_server(greet_first_with=timeout) as (port, _):
        pool = Pool("127.0.0.1", port, cap=4)
        pool.count += 1  # a connection opened ahead of demand, as _grow does, that stays idle
        await pool._open()

        async def idle_one_gone() -> bool:
            return pool.count == 0

        await eventually(idle_one_gone, timeout=5, interval=0.01, what="the 408'd connection lost")
        assert pool.answers == []
        pool.submit(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n", 1.0)
        await eventually(lambda: _answered(pool, 1), timeout=5, interval=0.01, what="an answer")
        assert [(due, status) for due, _, status in pool.answers] == [(1.0, 200)]
