"""The HTTP service: POST /webhooks/stripe (verify, publish, answer), health, readiness, metrics.

The webhook path is a plain ASGI handler in front of the FastAPI app: it reads the raw body as it
streams in (refusing an oversized one before reading it all), verifies the signature over exactly
those bytes, parses the JSON once, and answers 200 only after the broker acknowledged the write.
Everything else (/healthz, /readyz, /metrics) is ordinary FastAPI.

Overload: publishes awaiting the broker are bounded (WEBHOOK_INGEST_MAX_IN_FLIGHT). A request that
arrives while the bound is reached is answered 503 with `Retry-After` at once, before its body is
read or verified and without touching the broker (counted in webhook_ingest_shed_total): Stripe
retries it, so shedding loses nothing, while what is accepted keeps its latency instead of every
request queueing behind an unbounded backlog. Served by the product's HTTP protocol
(backbone.http_server), the shed answer goes out from the request's head, below ASGI
(`IngestApp.early_answer`), so that shedding costs little of the capacity it protects.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import os
import re
import time
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
from webhook_ingest.publisher import Publisher
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
_OK_HEAD = [_JSON, (b"content-length", b"%d" % len(_OK_BODY))]
_RETRY_AFTER = b"retry-after"
_SAFE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")


def _error_body(reason: str, message: str, *, retryable: bool = False) -> bytes:
    """The repository's one error shape (backbone.web), with the reason as its code."""
    return json.dumps(error_body(reason, message, retryable=retryable)).encode()


OVERLOADED = "overloaded"
_SHED_BODY = _error_body(OVERLOADED, "too many webhooks at once; retry later", retryable=True)
_SHED_STATUS_LINE = b"HTTP/1.1 503 Service Unavailable\r\n"
_WEBHOOK_URL = WEBHOOK_PATH.encode()
_WEBHOOK_URL_QUERY = _WEBHOOK_URL + b"?"


class Rejection(Exception):
    """A 4xx answer: status, reason (metric label and log field) and a short message."""

    def __init__(self, status: int, reason: str, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.close = close


class Ingest:
    """The webhook handler and what it needs: settings, verifier, publisher."""

    def __init__(self, settings: IngestSettings, producer: Producer) -> None:
        self.settings = settings
        self.producer = producer
        self.verifier = SignatureVerifier(settings.secrets(), settings.tolerance_s)
        self._limit = settings.max_body_bytes
        self._livemode = settings.livemode
        self._retry_after = str(settings.retry_after_s).encode()
        self._mode_name = "live" if settings.livemode else "test"
        self.publisher = Publisher(
            producer,
            settings.topic,
            settings.publish_timeout_s,
            linger_s=settings.publish_linger_ms / 1000,
        )
        self._max_in_flight = settings.max_in_flight
        self._shed_head = [
            _JSON,
            (b"content-length", b"%d" % len(_SHED_BODY)),
            (_RETRY_AFTER, str(settings.shed_retry_after_s).encode()),
        ]
        # The early answer's bytes up to its request id, built once (it is the overload's path).
        self._shed_response_head = b"".join(
            [_SHED_STATUS_LINE, *(b"%s: %s\r\n" % pair for pair in self._shed_head)]
        )
        self._shed_logged_at = 0.0
        self._shed_unlogged = 0
        self._api_versions = frozenset(settings.api_versions)
        # Counter children by event type, looked up once (labels() takes a lock each call).
        self._published_by_type: dict[str, Any] = {}

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
        if self.publisher.in_flight >= self._max_in_flight:
            await self._shed(
                send, _request_id(_header(scope["headers"], b"x-request-id")), received_at
            )
            return
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
        rid = _request_id(request_id)
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
            await _reject(send, rejection, rid, rid_header)
            return

        if self.publisher.in_flight >= self._max_in_flight:  # filled up while the body came in
            await self._shed(send, rid, received_at)
            return
        check_api_version(facts.api_version, self._api_versions, event_id=facts.id)
        headers = _record_headers(facts, rid, received_at)
        failure = await self._publish(body, facts.key.encode(), headers, rid, facts.id)

        self._record_outcome(facts, rid, failure)
        if failure is not None:
            await _respond(
                send,
                503,
                _error_body(failure, "event not stored; retry later", retryable=True),
                [rid_header, (b"retry-after", self._retry_after)],
            )
            return
        await send(
            {"type": "http.response.start", "status": 200, "headers": [*_OK_HEAD, rid_header]}
        )
        await send({"type": "http.response.body", "body": _OK_BODY})

    def early_answer(
        self, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]]
    ) -> bytes | None:
        """The shed answer as a whole HTTP response, for a webhook that arrives at the in-flight
        bound (backbone.http_server.EarlyAnswer); None for everything else."""
        if self.publisher.in_flight < self._max_in_flight or method != b"POST":
            return None
        if url != _WEBHOOK_URL and not url.startswith(_WEBHOOK_URL_QUERY):
            return None
        metrics.RECEIVED.inc()
        rid = _request_id(_header(headers, b"x-request-id"))
        self._count_shed(time.time())
        return b"%sx-request-id: %s\r\n\r\n%s" % (
            self._shed_response_head,
            rid.encode("ascii"),
            _SHED_BODY,
        )

    async def _shed(self, send: Send, rid: str, now: float) -> None:
        """503 + Retry-After at once: the body is neither read nor verified, nothing published."""
        self._count_shed(now)
        rid_header = (b"x-request-id", rid.encode("ascii"))
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [*self._shed_head, rid_header],
            }
        )
        await send({"type": "http.response.body", "body": _SHED_BODY})

    def _count_shed(self, now: float) -> None:
        """Count a shed webhook. One log line a second at most says how many were shed since the
        last one (a line per shed request would add to the load being shed)."""
        metrics.SHED.inc()
        self._shed_unlogged += 1
        if now - self._shed_logged_at >= 1.0:
            log.warning(
                "webhook.shed",
                shed=self._shed_unlogged,
                in_flight=self.publisher.in_flight,
                max_in_flight=self._max_in_flight,
            )
            self._shed_logged_at, self._shed_unlogged = now, 0

    def _record_outcome(self, facts: EventFacts, rid: str, failure: str | None) -> None:
        """Count and log a verified event's publication; the ids let an operator follow a
        payment."""
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
        counter = self._published_by_type.get(facts.type)
        if counter is None:
            counter = self._published_by_type[facts.type] = metrics.EVENTS.labels(
                facts.type, "published"
            )
        counter.inc()
        log.info("webhook.published", **ids)

    async def _publish(
        self, body: bytes, key: bytes, headers: list[tuple[str, bytes]], rid: str, event_id: str
    ) -> str | None:
        """Produce and wait for the ack within the bound; None when acknowledged, else why not.

        At the bound (the publisher's timer, WEBHOOK_INGEST_PUBLISH_TIMEOUT_S) the answer (503)
        goes out at once while the publisher finishes or fails in the background (the producer's
        own timeout discards a stuck client); the record keeps its in-flight slot until then, so
        a hung broker cannot pile up unbounded work.
        """
        started = time.perf_counter()
        failure: str | None = None
        try:
            await self.publisher.publish(body, key, headers)
        except BrokerUnavailable:
            failure = "broker_unavailable"
        except TimeoutError:
            failure = "timeout"
        except Exception:
            failure = "produce_failed"
            log.exception("webhook.produce_failed", request_id=rid, event_id=event_id)
        metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
        return failure

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


async def _reject(
    send: Send, rejection: Rejection, rid: str, rid_header: tuple[bytes, bytes]
) -> None:
    """Count, log and answer a 4xx."""
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
    await _respond(send, rejection.status, _error_body(rejection.reason, rejection.message), extra)


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


def _header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> bytes | None:
    for name, value in headers:
        if name == wanted:
            return value
    return None


class _RequestIds:
    """New request ids without a system call each: 32 hex digits, a random prefix per process
    (drawn again in a forked child) and a counter. They correlate log lines; they guard nothing."""

    def __init__(self) -> None:
        self._draw()
        os.register_at_fork(after_in_child=self._draw)

    def _draw(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._next = itertools.count(1).__next__

    def __call__(self) -> str:
        return f"{self._prefix}{self._next():016x}"


_new_request_id = _RequestIds()


def _request_id(given: bytes | None) -> str:
    """The caller's X-Request-ID when it is safe to echo and log, else a new one."""
    if given is not None and _SAFE_REQUEST_ID.match(given):
        return given.decode("ascii")
    return _new_request_id()


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

    def early_answer(
        self, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]]
    ) -> bytes | None:
        """A webhook shed from its head alone (backbone.http_server.EarlyAnswer)."""
        return self.ingest.early_answer(method, url, headers)

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
