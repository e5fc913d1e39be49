"""The Stripe calls checkout makes, with bounded retries and errors typed for the caller.

The stripe package's own retries are off: this loop owns the time budget (attempts, exponential
backoff, an overall deadline), and every attempt of a create carries the same Idempotency-Key, so
a retry after a lost answer yields the session Stripe already made, never a second one. Stripe
stores a 5xx answer under the key of a request that started executing and replays it (marked
`Idempotent-Replayed: true`) to every retry with that key: once a replayed 5xx comes back, the
key is spent, retrying it stops, and the caller moves to a new key.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import stripe
from prometheus_client import Counter, Histogram

from backbone.logging import get_logger
from checkout.service_layer.errors import (
    StripeIdempotencyConflict,
    StripeRefused,
    StripeUnavailable,
)
from checkout.service_layer.ports import StripeSession
from checkout.settings import StripeSettings

__all__ = [
    "StripeGateway",
    "StripeIdempotencyConflict",
    "StripeRefused",
    "StripeSession",
    "StripeUnavailable",
    "session_of",
]

log = get_logger(__name__)
T = TypeVar("T")

STRIPE_CALLS = Counter(
    "checkout_stripe_calls_total",
    "Stripe API attempts by operation and outcome.",
    ["op", "outcome"],
)
STRIPE_ERRORS = Counter(
    "checkout_stripe_errors_total",
    "Failed Stripe API attempts by operation and error code (Stripe's code, else the kind).",
    ["op", "code"],
)
STRIPE_SECONDS = Histogram(
    "checkout_stripe_call_seconds", "Time of one Stripe call, retries included.", ["op"]
)


def session_of(session: Any) -> StripeSession:
    """What checkout keeps of the stripe package's Checkout Session object."""
    obj: dict[str, Any] = session.to_dict()
    return StripeSession(
        id=str(obj["id"]),
        url=obj.get("url"),
        status=str(obj.get("status") or "open"),
        payment_status=str(obj.get("payment_status") or "unpaid"),
        amount_total=int(obj.get("amount_total") or 0),
        currency=str(obj.get("currency") or ""),
        expires_at=datetime.fromtimestamp(int(obj["expires_at"]), UTC),
        created=datetime.fromtimestamp(int(obj["created"]), UTC),
    )


class StripeGateway:
    """PaymentGateway on stripe.StripeClient: API base from STRIPE_API_BASE (or Stripe's)."""

    def __init__(
        self,
        settings: StripeSettings,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._sleep = sleep
        options: dict[str, Any] = {}
        if settings.api_base:
            options["base_addresses"] = {"api": settings.api_base}
        self._client = stripe.StripeClient(
            settings.api_key.get_secret_value(),
            max_network_retries=0,
            stripe_version=settings.api_version,
            http_client=stripe.HTTPXClient(timeout=settings.request_timeout_s),
            **options,
        )

    async def create_session(self, params: dict[str, Any], idempotency_key: str) -> StripeSession:
        """Create a Checkout Session; the same key always yields the same session."""

        async def create() -> Any:
            return await self._client.v1.checkout.sessions.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )

        return session_of(await self._call("create_session", create))

    async def expire_session(self, session_id: str) -> StripeSession:
        """Expire an open Checkout Session so it can no longer be paid (Stripe refuses one that
        is not open: StripeRefused)."""

        async def expire() -> Any:
            return await self._client.v1.checkout.sessions.expire_async(session_id)

        return session_of(await self._call("expire_session", expire))

    async def retrieve_session(self, session_id: str) -> StripeSession:
        """The session as Stripe sees it now."""

        async def retrieve() -> Any:
            return await self._client.v1.checkout.sessions.retrieve_async(session_id)

        return session_of(await self._call("retrieve_session", retrieve))

    async def _call(self, op: str, attempt: Callable[[], Awaitable[T]]) -> T:
        cfg = self._settings
        deadline = time.monotonic() + cfg.deadline_s
        started = time.monotonic()
        failure: StripeUnavailable | None = None
        try:
            for number in range(1, cfg.max_attempts + 1):
                try:
                    result = await asyncio.wait_for(attempt(), timeout=cfg.request_timeout_s + 1)
                except (stripe.StripeError, TimeoutError) as exc:
                    STRIPE_ERRORS.labels(op, _error_code(exc)).inc()
                    failure = _classify(exc)
                    STRIPE_CALLS.labels(op, failure.kind).inc()
                    log.warning("stripe.attempt_failed", op=op, attempt=number, kind=failure.kind)
                else:
                    STRIPE_CALLS.labels(op, "ok").inc()
                    return result
                if failure.replayed:
                    break  # every further retry with this key gets the same stored answer
                pause = min(cfg.backoff_initial_s * 2 ** (number - 1), cfg.backoff_max_s)
                pause = max(pause, failure.retry_after or 0.0) * random.uniform(0.8, 1.0)  # noqa: S311
                if number == cfg.max_attempts or time.monotonic() + pause >= deadline:
                    break
                await self._sleep(pause)
        finally:
            STRIPE_SECONDS.labels(op).observe(time.monotonic() - started)
        assert failure is not None
        raise failure


def _classify(exc: BaseException) -> StripeUnavailable:
    """A retryable failure as StripeUnavailable; anything else is raised as the typed refusal."""
    if isinstance(exc, TimeoutError):
        return StripeUnavailable("timeout", "Stripe did not answer in time")
    if isinstance(exc, stripe.APIConnectionError):
        if isinstance(exc.__cause__, httpx.TimeoutException):
            return StripeUnavailable("timeout", "Stripe did not answer in time")
        return StripeUnavailable("unreachable", "Stripe could not be reached")
    if isinstance(exc, stripe.RateLimitError):
        return StripeUnavailable("rate_limited", "Stripe is rate limiting us", _retry_after(exc))
    assert isinstance(exc, stripe.StripeError)
    status = exc.http_status or 0
    if status == 409 or isinstance(exc, stripe.IdempotencyError):
        # 409: the same key is being processed by a concurrent request; a 400 idempotency_error
        # means the key was used with other parameters. Both are settled by the caller.
        raise StripeIdempotencyConflict(exc.user_message or str(exc), in_use=status == 409) from exc
    if status >= 500:
        replayed = _header(exc, "idempotent-replayed") == "true"
        return StripeUnavailable("server_error", f"Stripe failed ({status})", replayed=replayed)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        # Our key is wrong: retrying now won't help, and the user can do nothing about it.
        log.error("stripe.credentials_refused", status=status)
        raise StripeUnavailable("server_error", "the payment provider refused our credentials")
    error = exc.error
    raise StripeRefused(
        status if 400 <= status < 500 else 400,
        str(getattr(error, "code", None) or getattr(error, "type", None) or "stripe_error"),
        exc.user_message or str(exc),
        getattr(error, "param", None),
    ) from exc


def _error_code(exc: BaseException) -> str:
    """A bounded label: Stripe's error code, else the error's type or HTTP status class."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, stripe.APIConnectionError):
        return "connection_error"
    if isinstance(exc, stripe.StripeError):
        code = getattr(exc.error, "code", None) or exc.code
        if code:
            return str(code)[:64]
        error_type = getattr(exc.error, "type", None)
        if error_type:
            return str(error_type)[:64]
        return f"http_{(exc.http_status or 0) // 100}xx"
    return type(exc).__name__


def _header(exc: stripe.StripeError, name: str) -> str | None:
    for key, value in (exc.headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _retry_after(exc: stripe.StripeError) -> float | None:
    value = _header(exc, "retry-after")
    try:
        return float(value) if value else None
    except ValueError:
        return None
