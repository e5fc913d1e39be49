"""HTTP API: the subset of Mailpit's API v1 a test needs, plus fault-injection controls."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from mail_sink import views
from mail_sink.faults import ChaosKey, ChaosTrigger, Fault, Faults
from mail_sink.search import search
from mail_sink.store import MessageStore, StoredMessage

DEFAULT_LIMIT = 50


class FaultRequest(BaseModel):
    """Body of POST /_sink/faults."""

    mode: Literal["none", "reject_all", "reject_recipient"]
    code: int = Field(550, ge=400, le=599)
    recipient: str | None = None
    stage: Literal["mail", "rcpt", "data"] = "mail"
    message: str | None = None
    times: int | None = Field(None, ge=1)


class ReadRequest(BaseModel):
    """Body of PUT /api/v1/messages."""

    IDs: list[str] | None = None
    Read: bool = True


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise HTTPException(400, "invalid JSON body") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "JSON body must be an object")
    return data


def _ids(data: dict[str, Any]) -> list[str] | None:
    ids = data.get("IDs") or data.get("ids")
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise HTTPException(400, "IDs must be a list of strings")
    return ids


def create_app(
    store: MessageStore, faults: Faults, ready: Callable[[], bool] | None = None
) -> FastAPI:
    """Build the app over a store and faults; `ready` reports whether SMTP is listening."""
    app = FastAPI(title="mail-sink", summary="Development SMTP sink with a Mailpit-like API")

    def find(message_id: str) -> StoredMessage:
        message = store.latest() if message_id == "latest" else store.get(message_id)
        if message is None:
            raise HTTPException(404, "message not found")
        return message

    def page(matched: list[StoredMessage], start: int, limit: int) -> dict[str, Any]:
        return views.message_list(
            matched[start : start + limit] if limit > 0 else matched[start:],
            total=len(store),
            unread=store.unread,
            matched=matched,
            start=start,
        )

    @app.get("/api/v1/messages")
    def list_messages(
        start: int = Query(0, ge=0), limit: int = Query(DEFAULT_LIMIT, ge=0)
    ) -> dict[str, Any]:
        return page(store.newest_first(), start, limit)

    @app.delete("/api/v1/messages", response_class=PlainTextResponse)
    async def delete_messages(request: Request) -> str:
        ids = _ids(await _json_body(request))
        store.delete(ids or None)
        return "ok"

    @app.put("/api/v1/messages", response_class=PlainTextResponse)
    def set_read(body: ReadRequest) -> str:
        store.set_read(body.IDs or None, body.Read)
        return "ok"

    @app.get("/api/v1/message/{message_id}")
    def get_message(message_id: str) -> dict[str, Any]:
        message = find(message_id)
        store.set_read([message.id], True)
        return views.full(message)

    @app.get("/api/v1/message/{message_id}/headers")
    def get_headers(message_id: str) -> dict[str, list[str]]:
        return views.headers(find(message_id))

    @app.get("/api/v1/message/{message_id}/raw")
    def get_raw(message_id: str) -> Response:
        return Response(find(message_id).raw, media_type="text/plain; charset=utf-8")

    @app.get("/api/v1/search")
    def search_messages(
        query: str = Query(...),
        start: int = Query(0, ge=0),
        limit: int = Query(DEFAULT_LIMIT, ge=0),
    ) -> dict[str, Any]:
        return page(search(store.newest_first(), query), start, limit)

    @app.delete("/api/v1/search", response_class=PlainTextResponse)
    def delete_search(query: str = Query(...)) -> str:
        store.delete([m.id for m in search(store.newest_first(), query)])
        return "ok"

    _add_control_routes(app, store, faults, ready)
    return app


def _add_control_routes(
    app: FastAPI, store: MessageStore, faults: Faults, ready: Callable[[], bool] | None
) -> None:
    """Info, chaos (Mailpit-compatible), fault injection and health routes."""

    @app.get("/api/v1/info")
    def info() -> dict[str, Any]:
        return {
            "Version": "mail-sink",
            "Messages": len(store),
            "Unread": store.unread,
            "Tags": {},
            "RuntimeStats": {"MessagesStored": store.received},
        }

    @app.get("/api/v1/chaos")
    def get_chaos() -> dict[str, dict[str, int]]:
        return faults.chaos()

    @app.put("/api/v1/chaos")
    async def set_chaos(request: Request) -> dict[str, dict[str, int]]:
        data = await _json_body(request)
        data = data.get("Triggers", data)
        keys: tuple[ChaosKey, ...] = ("Sender", "Recipient", "Authentication")
        triggers: dict[ChaosKey, ChaosTrigger] = {}
        for key in keys:
            raw = data.get(key)
            if isinstance(raw, dict):
                defaults = {"Sender": 451, "Recipient": 451, "Authentication": 535}
                triggers[key] = ChaosTrigger(
                    int(raw.get("ErrorCode") or defaults[key]), int(raw.get("Probability", 0))
                )
        try:
            faults.set_chaos(triggers)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return faults.chaos()

    @app.get("/_sink/faults")
    def get_fault() -> dict[str, Any]:
        return faults.describe()

    @app.post("/_sink/faults")
    def set_fault(body: FaultRequest) -> dict[str, Any]:
        if body.mode == "none":
            faults.set(None)
            return faults.describe()
        fault = Fault(body.mode, body.code, body.recipient, body.stage, body.message, body.times)
        try:
            faults.set(fault)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return faults.describe()

    @app.delete("/_sink/faults")
    def clear_faults() -> dict[str, Any]:
        faults.set(None)
        faults.reset_chaos()
        return faults.describe()

    @app.get("/livez", response_class=PlainTextResponse)
    def livez() -> str:
        return "ok"

    @app.get("/readyz", response_class=PlainTextResponse)
    def readyz() -> str:
        if ready is not None and not ready():
            raise HTTPException(503, "SMTP server not listening")
        return "ok"
