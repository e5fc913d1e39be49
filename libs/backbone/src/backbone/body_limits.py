"""Body limits of the HTTP services: size (413 before reading), JSON depth, and text no store
can keep (NUL, lone surrogates): refused with 4xx before routing, so before authentication and
before a handler parses what would otherwise be a 500."""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backbone.web import error_body

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(rb"[\[\]{}]")
# A \uD800-\uDFFF escape that is not half of a pair: valid JSON syntax, but no character; the
# string it makes cannot be encoded (the database, a log line or an error echo would fail: a 500).
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def json_depth(body: bytes) -> int:
    """How deeply a JSON text nests arrays and objects, found without parsing it (a parser
    recurses, and a deep enough text exhausts Python's stack: a 500 instead of a 400)."""
    depth = deepest = 0
    for bracket in _BRACKETS.finditer(_JSON_STRING.sub(b"", body)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def nests_deeper(body: bytes, limit: int) -> bool:
    """Whether a JSON text nests deeper than `limit`; a text with no more brackets than that
    cannot, and is answered by two C-level counts instead of a scan."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    return json_depth(body) > limit


async def _send_error(
    send: Send, status: int, code: str, message: str, *, close: bool = False
) -> None:
    payload = json.dumps(error_body(code, message, retryable=False)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    if close:  # the server would otherwise drain the refused body to reuse the connection
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class BodyLimitMiddleware:
    """Refuses a body over `max_bytes` with 413 before reading it (by its Content-Length) or as
    soon as a chunked one passes the limit, and a JSON body nested deeper than `max_depth` with
    400; both before routing, so before authentication and before any handler parses it."""

    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_JSON_DEPTH
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope["path"]:
            # No text we keep may hold NUL (PostgreSQL refuses it): a 400, not a 500 later.
            await _send_error(send, 400, "invalid_request", "NUL is not allowed in a URL")
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_bytes:
            limit = f"the body is over {self.max_bytes} bytes"
            huge = not declared.isdigit() or int(declared) > 16 * self.max_bytes
            await _send_error(send, 413, "body_too_large", limit, close=huge)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                limit = f"the body is over {self.max_bytes} bytes"
                await _send_error(send, 413, "body_too_large", limit, close=True)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        is_json = content_type == b"application/json" or content_type.endswith(b"+json")
        if is_json and nests_deeper(body, self.max_depth):
            nested = f"the JSON body nests deeper than {self.max_depth} levels"
            await _send_error(send, 400, "body_too_deep", nested)
            return
        if is_json and b"\\u0000" in body:
            await _send_error(send, 400, "invalid_json", "NUL (\\u0000) is not allowed in text")
            return
        if is_json and b"\\u" in body and _LONE_SURROGATE.search(body):
            lone = "the JSON body escapes a lone surrogate (\\uD800-\\uDFFF): not a character"
            await _send_error(send, 400, "invalid_json", lone)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: only a disconnect can come
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
