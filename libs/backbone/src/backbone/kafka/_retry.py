"""Retries around one message (a batch of one): outages waited out, other failures bounded."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from backbone.kafka._failures import Kind, PermanentError, TransientError, classify
from backbone.kafka._message import BatchHandler, Message
from backbone.kafka._waiting import TransientWait
from backbone.logging import get_logger
from backbone.settings import RetrySettings

__all__ = ["Outcome", "PermanentError", "TransientError", "handle_with_retries"]

log = get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    """How handling ended: with the last error if it is to be dead-lettered."""

    attempts: int
    error: BaseException | None = None

    @property
    def succeeded(self) -> bool:
        """Whether some attempt succeeded."""
        return self.error is None


def backoff_delay(settings: RetrySettings, attempt: int) -> float:
    """Delay after failed attempt number `attempt` (1-based) of a deterministic failure."""
    delay = settings.backoff_initial_s * settings.backoff_multiplier ** (attempt - 1)
    return float(min(delay, settings.backoff_max_s))


async def handle_with_retries(
    handler: BatchHandler, message: Message, settings: RetrySettings, *, owner: str = "consumer"
) -> Outcome:
    """Call `handler` with `message` alone (a batch of one) until it succeeds or fails for good
    (backbone.kafka.classify).

    A transient failure is waited out for as long as it lasts and does not count against
    `max_attempts`; a permanent one ends at once; any other gets `max_attempts` tries. So a
    poison message that meets an outage is dead-lettered once the outage is over, not during it.
    """
    attempts = failures = 0
    wait: TransientWait | None = None
    try:
        while True:
            attempts += 1
            try:
                await handler([message])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failure = classify(exc)
                if failure.transient:
                    wait = wait or TransientWait(owner, settings)
                    await wait.pause(failure, exc)
                    continue
                failures += 1
                final = failure.kind is Kind.PERMANENT or failures >= settings.max_attempts
                log.warning(
                    "message.handler_failed",
                    attempt=failures,
                    error_class=type(exc).__name__,
                    error=str(exc)[:500],
                    final=final,
                )
                if final:
                    return Outcome(attempts=attempts, error=exc)
                await asyncio.sleep(backoff_delay(settings, failures))
            else:
                return Outcome(attempts=attempts)
    finally:
        if wait is not None:
            wait.end()
