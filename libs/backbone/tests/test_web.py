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
