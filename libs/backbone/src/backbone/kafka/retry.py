"""Bounded retries with exponential backoff around one message's handler."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from backbone.kafka.message import Message
from backbone.logging import get_logger
from backbone.settings import RetrySettings

log = get_logger(__name__)

Handler = Callable[[Message], Awaitable[None]]


class PermanentError(Exception):
    """A failure no retry can fix (a malformed payload): dead-letter at once."""


@dataclass(frozen=True)
class Outcome:
    """How handling ended: with the last error if every attempt failed."""

    attempts: int
    error: BaseException | None = None

    @property
    def succeeded(self) -> bool:
        """Whether some attempt succeeded."""
        return self.error is None


def backoff_delay(settings: RetrySettings, attempt: int) -> float:
    """Delay after failed attempt number `attempt` (1-based)."""
    delay = settings.backoff_initial_s * settings.backoff_multiplier ** (attempt - 1)
    return float(min(delay, settings.backoff_max_s))


async def handle_with_retries(
    handler: Handler, message: Message, settings: RetrySettings
) -> Outcome:
    """Call `handler` until it succeeds, fails permanently, or runs out of attempts."""
    attempt = 0
    while True:
        attempt += 1
        try:
            await handler(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            final = isinstance(exc, PermanentError) or attempt >= settings.max_attempts
            log.warning(
                "message.handler_failed",
                attempt=attempt,
                error_class=type(exc).__name__,
                error=str(exc)[:500],
                final=final,
            )
            if final:
                return Outcome(attempts=attempt, error=exc)
            await asyncio.sleep(backoff_delay(settings, attempt))
        else:
            return Outcome(attempts=attempt)
