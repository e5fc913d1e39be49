"""The HTTP service: POST /webhooks/stripe (verify, publish, answer), health, readiness, metrics.

The webhook path is a plain ASGI handler in front of the FastAPI app: it reads the raw body as it
streams in (refusing an oversized one before reading it all), verifies the signature over exactly
those bytes, parses the JSON once, and answers 200 only after the broker acknowledged the write.
Everything else (/healthz, /readyz, /metrics) is ordinary FastAPI.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI

from backbone.kafka import BrokerUnavailable, Producer
from backbone.logging import get_logger
from backbone.settings import KafkaSettings
from backbone.web import error_body, install
from contracts import headers as h
from contracts.stripe import CHECKOUT_SESSION_PREFIX
from webhook_ingest import metrics
from webhook_ingest.api_version import check_api_version
from webhook_ingest.event import EventFacts, InvalidEvent, read_event
from webhook_ingest.settings import IngestSettings
from webhook_ingest.signature import SignatureError, SignatureVerifier

log = get_logger("webhook_ingest")

WEBHOOK_PATH = "/webhooks/stripe"
CLIENT_ID = "webhook-ingest"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Rejection reasons beyond the signature ones (see signature.py), each a metric label.
TOO_LARGE = "body_too_large"
BAD_CONTENT_TYPE = "unsupported_content_type"
INVALID_EVENT = "invalid_event"
LIVEMODE_MISMATCH = "livemode_mismatch"
METHOD_NOT_ALLOWED = "method_not_allowed"

_JSON = (b"content-type", b"application/json")
_OK_BODY = b'{"status":"published"}'
_SAFE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")


def _error_body(reason: str, message: str, *, retryable: bool = False) -> bytes:
    """The repository's one error shape (backbone.web), with the reason as its code."""
    return json.dumps(error_body(reason, message, retryable=retryable)).encode()


class Rejection(Exception):
    """A 4xx answer: status, reason (metric label and log field) and a short message."""

    def __init__(self, status: int, reason: str, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.close = close


class Ingest:
    """The webhook handler and what it needs: settings, verifier, producer."""

    def __init__(self, settings: IngestSettings, producer: Producer) -> None:
        self.settings = settings
        self.producer = producer
        self.verifier = SignatureVerifier(settings.secrets(), settings.tolerance_s)
        self._topic = settings.topic
        self._limit = settings.max_body_bytes
        self._livemode = settings.livemode
        self._publish_timeout = settings.publish_timeout_s
        self._retry_after = str(settings.retry_after_s).encode()
        self._mode_name = "live" if settings.livemode else "test"
        self._max_in_flight = settings.max_in_flight
        self._in_flight = 0
        self._api_versions = frozenset(settings.api_versions)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._handle(scope, receive, send)
        except Exception:
            log.exception("webhook.internal_error")
            await _respond(
                send, 500, _error_body("internal_error", "internal error", retryable=True)
            )

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        received_at = time.time()
        metrics.RECEIVED.inc()
        content_type = content_length = signature = request_id = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                content_length = value
            elif name == b"stripe-signature":
                signature = value
            elif name == b"x-request-id":
                request_id = value
        rid = (
            request_id.decode("ascii")
            if request_id is not None and _SAFE_REQUEST_ID.match(request_id)
            else uuid.uuid4().hex
        )
        rid_header = (b"x-request-id", rid.encode("ascii"))
        try:
            if scope["method"] != "POST":
                raise Rejection(405, METHOD_NOT_ALLOWED, "only POST is accepted")
            self._check_content_type(content_type)
            self._check_declared_length(content_length)
            body = await self._read_body(receive)
            if body is None:  # the client went away; nobody to answer
                log.info("webhook.client_disconnected", request_id=rid)
                return
            try:
                self.verifier.verify(signature, body, now=received_at)
            except SignatureError as exc:
                raise Rejection(400, exc.reason, exc.message) from None
            try:
                facts = read_event(body)
            except InvalidEvent as exc:
                raise Rejection(400, INVALID_EVENT, str(exc)) from None
            if facts.livemode is not self._livemode:
                got = {True: "live", False: "test", None: "unknown"}[facts.livemode]
                raise Rejection(
                    400,
                    LIVEMODE_MISMATCH,
                    f"{got}-mode event sent to a {self._mode_name}-mode endpoint",
                )
        except Rejection as rejection:
            metrics.REJECTED.labels(rejection.reason).inc()
            log.warning(
                "webhook.rejected",
                reason=rejection.reason,
                status=rejection.status,
                detail=rejection.message,
                request_id=rid,
            )
            extra = [rid_header]
            if rejection.close:
                extra.append((b"connection", b"close"))
            if rejection.status == 405:
                extra.append((b"allow", b"POST"))
            await _respond(
                send, rejection.status, _error_body(rejection.reason, rejection.message), extra
            )
            return

        check_api_version(facts.api_version, self._api_versions, event_id=facts.id)
        headers = _record_headers(facts, rid, received_at)
        failure = await self._publish(body, facts.key.encode(), headers, rid, facts.id)

        _record_outcome(facts, rid, failure)
        if failure is not None:
            await _respond(
                send,
                503,
                _error_body(failure, "event not stored; retry later", retryable=True),
                [rid_header, (b"retry-after", self._retry_after)],
            )
            return
        await _respond(send, 200, _OK_BODY, [rid_header])

    async def _publish(
        self, body: bytes, key: bytes, headers: list[tuple[str, bytes]], rid: str, event_id: str
    ) -> str | None:
        """Produce and wait for the ack within the bound; None when acknowledged, else why not.

        The produce runs in its own task and is waited for through a shield: when the bound
        passes, the answer (503) goes out at once while the producer finishes or fails in the
        background (its own timeout discards a stuck client). In-flight publishes are capped, so a
        hung broker cannot pile up unbounded work; past the cap the answer is 503 straight away.
        """
        if self._in_flight >= self._max_in_flight:
            return "overloaded"
        started = time.perf_counter()
        task = asyncio.ensure_future(
            self.producer.send(self._topic, body, key=key, headers=headers)
        )
        self._in_flight += 1
        task.add_done_callback(self._publish_done)
        failure: str | None = None
        try:
            async with asyncio.timeout(self._publish_timeout):
                await asyncio.shield(task)
        except BrokerUnavailable:
            failure = "broker_unavailable"
        except TimeoutError:
            failure = "timeout"
        except Exception:
            failure = "produce_failed"
            log.exception("webhook.produce_failed", request_id=rid, event_id=event_id)
        metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
        return failure

    def _publish_done(self, task: asyncio.Future[Any]) -> None:
        self._in_flight -= 1
        if not task.cancelled():
            task.exception()  # retrieved, also when nobody waits for it any more

    @staticmethod
    def _check_content_type(value: bytes | None) -> None:
        media = (value or b"").split(b";", 1)[0].strip().lower()
        if media != b"application/json":
            raise Rejection(415, BAD_CONTENT_TYPE, "Content-Type must be application/json")

    def _check_declared_length(self, value: bytes | None) -> None:
        if value is None:
            return  # chunked: counted while it streams in
        try:
            declared = int(value)
        except ValueError:
            raise Rejection(400, TOO_LARGE, "Content-Length is not a number", close=True) from None
        if declared > self._limit:
            raise Rejection(413, TOO_LARGE, f"body over the {self._limit}-byte limit", close=True)

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The raw body, chunk by chunk, refused as soon as it passes the limit."""
        message = await receive()
        if message["type"] != "http.request":
            return None
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False) and len(body) <= self._limit:
            return body
        chunks = [body]
        size = len(body)
        while True:
            if size > self._limit:
                raise Rejection(
                    413, TOO_LARGE, f"body over the {self._limit}-byte limit", close=True
                )
            if not message.get("more_body", False):
                return b"".join(chunks)
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)


def _record_outcome(facts: EventFacts, rid: str, failure: str | None) -> None:
    """Count and log a verified event's publication; the ids let an operator follow a payment."""
    ids = {
        "request_id": rid,
        "event_id": facts.id,
        "event_type": facts.type,
        # The event key: the session id for checkout.session.*, the payment's correlation id.
        "correlation_id": facts.key,
    }
    if facts.type.startswith(CHECKOUT_SESSION_PREFIX):
        ids["session_id"] = facts.key
    if failure is not None:
        metrics.UNAVAILABLE.labels(failure).inc()
        metrics.EVENTS.labels(facts.type, "publish_failed").inc()
        log.warning("webhook.publish_failed", reason=failure, **ids)
        return
    metrics.PUBLISHED.inc()
    metrics.EVENTS.labels(facts.type, "published").inc()
    log.info("webhook.published", **ids)


def _record_headers(facts: EventFacts, rid: str, received_at: float) -> list[tuple[str, bytes]]:
    """The headers of the record on stripe.events (built by contracts.headers)."""
    return h.stripe_event_headers(
        event_id=facts.id,
        event_type=facts.type,
        livemode=facts.livemode,
        received_at=datetime.fromtimestamp(received_at, UTC).isoformat(timespec="milliseconds"),
        request_id=rid,
        # The object the event is about (the checkout session for checkout.session.*): the id
        # that follows one payment across services and logs.
        correlation_id=facts.key,
        api_version=facts.api_version,
    )


async def _respond(
    send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [_JSON, (b"content-length", b"%d" % len(body))]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Readiness:
    """One broker probe at a time, bounded; a slow probe keeps running for the next caller."""

    def __init__(self, producer: Producer, timeout_s: float) -> None:
        self._producer = producer
        self._timeout = timeout_s
        self._probe: asyncio.Task[bool] | None = None

    async def ready(self) -> bool:
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._producer.ping())
        try:
            return await asyncio.wait_for(asyncio.shield(self._probe), self._timeout)
        except TimeoutError:
            return False


def build_api(ingest: Ingest) -> FastAPI:
    """The FastAPI app: lifespan (producer), health, readiness, metrics."""
    readiness = Readiness(ingest.producer, ingest.settings.ready_timeout_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            await ingest.producer.start()
        except BrokerUnavailable as exc:
            # Not fatal: the producer connects on first use, and /readyz says not ready meanwhile.
            log.warning("producer.start_failed", error=str(exc))
        # Start-up objects (modules, settings, clients) never die: keep them out of the
        # collector's full passes, which otherwise show up as tail-latency pauses.
        gc.collect()
        gc.freeze()
        log.info(
            "webhook_ingest.started",
            topic=ingest.settings.topic,
            secrets=len(ingest.settings.webhook_secrets),
            livemode=ingest.settings.livemode,
        )
        yield
        await ingest.producer.stop()

    # Request ids, the error shape, /metrics, /healthz, and /readyz: ready while the broker
    # answers, so webhooks can be acknowledged.
    return install(
        FastAPI(title="webhook-ingest", lifespan=lifespan, docs_url=None, redoc_url=None),
        ready=readiness.ready,
    )


class IngestApp:
    """The ASGI entry: the webhook path goes straight to the handler, the rest to FastAPI."""

    def __init__(self, ingest: Ingest, api: FastAPI) -> None:
        self.ingest = ingest
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == WEBHOOK_PATH:
            await self.ingest(scope, receive, send)
        else:
            await self.api(scope, receive, send)


def kafka_settings_for(settings: IngestSettings, kafka: KafkaSettings) -> KafkaSettings:
    """Broker settings whose own waits stay inside the service's publish bound, batching wide."""
    return kafka.model_copy(
        update={
            "send_timeout_s": min(kafka.send_timeout_s, settings.publish_timeout_s),
            "connect_timeout_s": min(kafka.connect_timeout_s, settings.publish_timeout_s),
            "max_batch_size": settings.producer_batch_bytes,
        }
    )


def create_app(
    settings: IngestSettings | None = None, kafka: KafkaSettings | None = None
) -> IngestApp:
    """The service as an ASGI app (settings from the environment when not given)."""
    settings = settings or IngestSettings()
    kafka = kafka_settings_for(settings, kafka or KafkaSettings())
    ingest = Ingest(settings, Producer(kafka, client_id=CLIENT_ID))
    return IngestApp(ingest, build_api(ingest))
