"""Fault injection for the /v1 API: error answers and held answers, before or after the work.

An ASGI middleware rather than a route dependency, so that the request body is read before any
waiting (a client that gives up must not take its request with it, as on Stripe), and so that
the work can be done and its answer then withheld or replaced.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stripe_emulator.errors import StripeError, error_response
from stripe_emulator.store import Fault, Store

FAULT_STATE = "emulator_fault"  # request.state attribute: the fault this request is under


def fault_error(status: int) -> StripeError:
    """The error Stripe answers with for this status (type and code as Stripe's)."""
    if status == 429:
        return StripeError(
            "Too many requests hit the API too quickly (injected by the emulator).",
            status=429,
            code="rate_limit",
        )
    return StripeError(
        "An error occurred with our connection to Stripe (injected by the emulator).",
        status=status,
        type="api_error",
    )


def after_execute_error(request: Request) -> StripeError | None:
    """The error that replaces this request's answer once it has been carried out, if any."""
    fault: Fault | None = getattr(request.state, FAULT_STATE, None)
    if fault is None or fault.api_status is None or not fault.after_execute:
        return None
    return fault_error(fault.api_status)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client left before sending it all
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class FaultMiddleware:
    """Applies the store's current fault to matching /v1 calls."""

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith("/v1"):
            await self.app(scope, receive, send)
            return
        fault = self.store.faults.take(str(scope["path"]))
        if fault is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        request = Request(scope)
        setattr(request.state, FAULT_STATE, fault)
        if fault.api_status is not None and not fault.after_execute:
            await self._fail_before(request, fault, fault.api_status, send)
            return
        sent: list[Message] = []
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:  # the work never waits on the client again
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            sent.append(message)

        await self.app(scope, replay, capture)
        error = after_execute_error(request)
        await asyncio.sleep(fault.delay_seconds)
        if error is not None:
            await error_response(request, error)(scope, receive, send)
            return
        for message in sent:
            await send(message)

    async def _fail_before(self, request: Request, fault: Fault, status: int, send: Send) -> None:
        """Hold the call, then fail it with nothing done; its key is in use meanwhile."""
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        owns_key = bool(key) and key not in self.store.keys_in_use
        if key and owns_key:
            self.store.keys_in_use.add(key)
        try:
            await asyncio.sleep(fault.delay_seconds)
        finally:
            if key and owns_key:
                self.store.keys_in_use.discard(key)
        await error_response(request, fault_error(status))(request.scope, _no_receive, send)


async def _no_receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}
