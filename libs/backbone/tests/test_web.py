"""The shared HTTP plumbing over real HTTP: request ids, the error shape, validation, metrics."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI, Header
from pydantic import BaseModel

from backbone.web import ApiError, install
from devstack.testing import ServedApp

pytestmark = pytest.mark.integration


class Body(BaseModel):
    amount: int


def _app() -> FastAPI:
    app = install(FastAPI())

    @app.post("/things")
    async def create(body: Body) -> dict[str, int]:
        if body.amount > 100:
            raise ApiError(409, "too_much", "amount over the limit", retryable=False, limit=100)
        return {"amount": body.amount}

    @app.get("/flaky")
    async def flaky() -> None:
        raise ApiError(503, "upstream_unavailable", "try again", retryable=True)

    return app


async def test_errors_validation_request_ids_and_metrics() -> None:
    async with ServedApp(_app()) as served, httpx.AsyncClient(base_url=served.url) as client:
        ok = await client.post("/things", json={"amount": 5}, headers={"X-Request-ID": "req-42"})
        assert ok.json() == {"amount": 5}
        assert ok.headers["x-request-id"] == "req-42"

        conflict = await client.post("/things", json={"amount": 500})
        assert conflict.status_code == 409
        assert conflict.json() == {
            "error": {
                "code": "too_much",
                "message": "amount over the limit",
                "retryable": False,
                "limit": 100,
            }
        }
        assert len(conflict.headers["x-request-id"]) == 32

        invalid = await client.post("/things", json={"amount": "lots"})
        assert invalid.status_code == 422
        error = invalid.json()["error"]
        assert error["code"] == "invalid_request"
        assert error["fields"][0]["field"] == "amount"

        retry = await client.get("/flaky")
        assert retry.status_code == 503
        assert retry.json()["error"]["retryable"] is True

        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert "python_info" in metrics.text


async def test_health_readiness_unknown_routes_and_unexpected_errors() -> None:
    state: dict[str, bool | None] = {"ready": False}

    async def ready() -> bool:
        if state["ready"] is None:
            raise ConnectionError("database gone")
        return bool(state["ready"])

    app = install(FastAPI(), ready=ready)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    async with ServedApp(app) as served, httpx.AsyncClient(base_url=served.url) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        not_ready = await client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["error"]["retryable"] is True
        state["ready"] = True
        assert (await client.get("/readyz")).status_code == 200
        state["ready"] = None  # a probe that raises means not ready
        assert (await client.get("/readyz")).status_code == 503

        missing = await client.get("/nowhere")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"

        failed = await client.get("/boom")
        assert failed.status_code == 500
        assert failed.json() == {
            "error": {"code": "internal_error", "message": "an unexpected error", "retryable": True}
        }
        assert "secret internals" not in failed.text


async def test_a_large_body_is_413_and_a_deep_one_400_before_the_handler_and_its_auth() -> None:
    app = install(FastAPI())
    reached: list[str] = []

    @app.post("/guarded")
    async def guarded(body: Body, authorization: str = Header()) -> dict[str, int]:
        reached.append(authorization)
        return {"amount": body.amount}

    async with ServedApp(app) as served, httpx.AsyncClient(base_url=served.url) as client:
        large = await client.post("/guarded", content=b"{" + b" " * (64 * 1024) + b"}")
        assert large.status_code == 413
        assert large.json()["error"]["code"] == "body_too_large"
        assert large.headers["x-request-id"]
        # A client that declares 10 MB gets its answer before sending a byte of it.
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(b"POST /guarded HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=30)
        assert status_line.split()[1] == b"413"
        writer.close()

        deep = b'{"amount": 1, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
        nested = await client.post(
            "/guarded", content=deep, headers={"content-type": "application/json"}
        )
        assert nested.status_code == 400
        assert nested.json()["error"]["code"] == "body_too_deep"
        assert reached == []

        # A lone surrogate escape is no character: it would fail whatever encodes it later.
        lone = await client.post(
            "/guarded",
            content=b'{"amount": 1, "\\udc00": "\\ud835"}',
            headers={"content-type": "application/json"},
        )
        assert lone.status_code == 400, lone.text
        assert lone.json()["error"]["code"] == "invalid_json"
        assert reached == []

        nul = await client.post(
            "/guarded",
            content=b'{"amount": 1, "note": "a\\u0000b"}',
            headers={"content-type": "application/json"},
        )
        assert nul.status_code == 400, nul.text
        assert (await client.get("/guarded?status=a%00b")).status_code == 400

        # Brackets inside strings are text, and a body under the limits still reaches the route.
        fine = b'{"amount": 3, "note": "\\ud835\\ude03' + b"[" * 100 + b'"}'
        ok = await client.post(
            "/guarded",
            content=fine,
            headers={"content-type": "application/json", "authorization": "Bearer t"},
        )
        assert ok.status_code == 200, ok.text
        assert reached == ["Bearer t"]
