"""The shared HTTP plumbing over real HTTP: request ids, the error shape, validation, metrics."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
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
