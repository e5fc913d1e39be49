"""Asynchronous webhook delivery: a task queue, signed POSTs, retries with backoff, a log."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import structlog

from stripe_emulator.objects import Obj
from stripe_emulator.settings import EmulatorSettings
from stripe_emulator.signing import signature_header

log = structlog.get_logger("stripe_emulator.webhooks")
_WORKERS = 4


@dataclass
class WebhookConfig:
    """Where events go and how they are signed; changeable at runtime."""

    urls: list[str]
    secrets: list[str]
    enabled_events: list[str]

    def wants(self, event_type: str) -> bool:
        """Whether an event type is among the enabled ones ('*', exact, or 'prefix.*')."""
        for pattern in self.enabled_events:
            if pattern in ("*", event_type):
                return True
            if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
                return True
        return False


@dataclass
class Attempt:
    """One delivery attempt, as the delivery log shows it."""

    event_id: str
    event_type: str
    url: str
    attempt: int
    at: float
    status_code: int | None
    error: str | None
    duration_ms: int
    outcome: str  # "succeeded", "retrying" or "gave_up"
    next_retry_in: float | None = None


@dataclass
class _Job:
    event_id: str
    url: str
    attempt: int
    generation: int


class Dispatcher:
    """Delivers each (event, endpoint) pair, retrying failures with exponential backoff."""

    def __init__(self, settings: EmulatorSettings, events: dict[str, Obj]) -> None:
        self.settings = settings
        self.events = events
        self.config = self.initial_config()
        self.log: list[Attempt] = []
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._generation = 0
        self._in_flight = 0
        self._client: httpx.AsyncClient | None = None

    def initial_config(self) -> WebhookConfig:
        """The webhook configuration the settings give."""
        return WebhookConfig(
            urls=list(self.settings.webhook_urls),
            secrets=[s.get_secret_value() for s in self.settings.webhook_secrets],
            enabled_events=list(self.settings.webhook_enabled_events),
        )

    async def start(self) -> None:
        """Open the HTTP client and start the workers."""
        self._client = httpx.AsyncClient(timeout=self.settings.webhook_timeout)
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(_WORKERS)]

    async def stop(self) -> None:
        """Stop the workers and drop what is still pending."""
        self.cancel_pending()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    def cancel_pending(self) -> None:
        """Forget queued jobs and scheduled retries (reset)."""
        self._generation += 1
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    @property
    def pending(self) -> int:
        """Deliveries queued, scheduled for retry or in flight."""
        return self._queue.qsize() + len(self._timers) + self._in_flight

    def publish(self, event: Obj, times: int = 1, url: str | None = None) -> int:
        """Queue deliveries of an event to every endpoint that wants it; the endpoint count."""
        urls = [url] if url else [u for u in self.config.urls if self.config.wants(event["type"])]
        for target in urls:
            for _ in range(times):
                self._queue.put_nowait(_Job(event["id"], target, 1, self._generation))
        return len(urls)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after the given failed attempt."""
        s = self.settings
        return float(
            min(
                s.webhook_backoff_initial * s.webhook_backoff_factor ** (attempt - 1),
                s.webhook_backoff_max,
            )
        )

    async def _worker(self) -> None:
        while True:
            job = await self._queue.get()
            self._in_flight += 1
            try:
                if job.generation == self._generation:
                    await self._deliver(job)
            except Exception:  # a bug here must not kill the worker
                log.exception("webhook delivery crashed", event_id=job.event_id)
            finally:
                self._in_flight -= 1
                self._queue.task_done()

    async def _deliver(self, job: _Job) -> None:
        event = self.events.get(job.event_id)
        if event is None or self._client is None or not self.config.secrets:
            return
        payload = json.dumps(event, indent=2)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": signature_header(payload, self.config.secrets[0]),
        }
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            response = await self._client.post(job.url, content=payload, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        attempt = Attempt(
            event_id=job.event_id,
            event_type=event["type"],
            url=job.url,
            attempt=job.attempt,
            at=time.time(),
            status_code=status,
            error=error,
            duration_ms=int((time.monotonic() - started) * 1000),
            outcome="succeeded",
        )
        if job.generation != self._generation:  # reset while in flight: forget it
            return
        if error is not None:
            if job.attempt < self.settings.webhook_max_attempts:
                attempt.outcome, attempt.next_retry_in = "retrying", self.backoff(job.attempt)
                self._schedule(job, attempt.next_retry_in)
            else:
                attempt.outcome = "gave_up"
        self.log.append(attempt)
        log.info("webhook attempt", **{k: v for k, v in asdict(attempt).items() if k != "at"})

    def _schedule(self, job: _Job, delay: float) -> None:
        retry = _Job(job.event_id, job.url, job.attempt + 1, job.generation)
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(handle)
            if retry.generation == self._generation:
                self._queue.put_nowait(retry)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def deliveries(self, event_id: str | None = None) -> list[dict[str, Any]]:
        """The delivery log, oldest first, optionally for one event."""
        return [asdict(a) for a in self.log if event_id is None or a.event_id == event_id]
