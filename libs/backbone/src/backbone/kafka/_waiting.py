"""Waiting out an outage: capped exponential backoff with jitter, readiness, one log line per step.

One `TransientWait` is one episode: it starts at the first transient failure and ends when the
call goes through. Between tries it sleeps (the delay doubles up to a ceiling, each drawn between
half and all of it, so many consumers do not retry in step), keeps the process's readiness and
`consumer_stalled_seconds` saying what it waits for, and logs when the wait starts, at each
step up of the delay, once a minute at the ceiling, and when it ends: not once per try.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from backbone.kafka._failures import Failure, classify
from backbone.logging import get_logger
from backbone.readiness import STALLS
from backbone.settings import RetrySettings

log = get_logger(__name__)

# At the ceiling a line per try would be one per few seconds for as long as the outage lasts.
_CEILING_LOG_EVERY_S = 60.0


def transient_delay(settings: RetrySettings, step: int) -> float:
    """The ceiling of the delay before try `step + 1` (1-based `step`), before jitter."""
    delay = settings.transient_backoff_initial_s * 2 ** (step - 1)
    return float(min(delay, settings.transient_backoff_max_s))


class TransientWait:
    """One outage waited out by `owner` (a consumer group, a relay)."""

    def __init__(
        self, owner: str, settings: RetrySettings, *, blocks_readiness: bool = True
    ) -> None:
        self.owner = owner
        self._blocks_readiness = blocks_readiness
        self._settings = settings
        self.tries = 0
        self._dependency: str | None = None
        self._started = time.monotonic()
        self._last_log = 0.0

    @property
    def waited_s(self) -> float:
        """Seconds since the first failure of this episode."""
        return time.monotonic() - self._started

    async def pause(self, failure: Failure, error: BaseException) -> None:
        """Record one failed try of `failure.dependency` and sleep before the next."""
        dependency = failure.dependency or "dependency"
        if dependency != self._dependency:
            if self._dependency is not None:
                STALLS.end(self.owner, self._dependency)
            STALLS.begin(self.owner, dependency, blocks_readiness=self._blocks_readiness)
            self._dependency = dependency
        self.tries += 1
        ceiling = transient_delay(self._settings, self.tries)
        previous = transient_delay(self._settings, self.tries - 1) if self.tries > 1 else 0.0
        now = time.monotonic()
        if ceiling > previous or now - self._last_log >= _CEILING_LOG_EVERY_S:
            self._last_log = now
            log.warning(
                "dependency.waiting",
                owner=self.owner,
                dependency=dependency,
                tries=self.tries,
                waited_s=round(self.waited_s, 1),
                next_delay_s=round(ceiling, 2),
                error_class=type(error).__name__,
                error=str(error)[:300],
            )
        await asyncio.sleep(random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not crypto

    def end(self) -> None:
        """The call went through (or the caller gives up): leave the registry, say so once."""
        if self._dependency is None:
            return
        STALLS.end(self.owner, self._dependency)
        log.info(
            "dependency.recovered",
            owner=self.owner,
            dependency=self._dependency,
            tries=self.tries,
            waited_s=round(self.waited_s, 1),
        )
        self._dependency = None


T = TypeVar("T")


async def retry_transient(
    call: Callable[[], Awaitable[T]],
    *,
    owner: str,
    settings: RetrySettings | None = None,
    give_up_after_s: float | None = None,
) -> T:
    """`await call()`, again after each transient failure (backbone.kafka.classify) with the
    same backoff as a consumer, until it succeeds; any other failure is raised at once, and so
    is a transient one once `give_up_after_s` have passed (a one-shot command must end)."""
    wait: TransientWait | None = None
    try:
        while True:
            try:
                return await call()
            except Exception as exc:
                failure = classify(exc)
                if not failure.transient:
                    raise
                wait = wait or TransientWait(owner, settings or RetrySettings())
                if give_up_after_s is not None and wait.waited_s >= give_up_after_s:
                    raise
                await wait.pause(failure, exc)
    finally:
        if wait is not None:
            wait.end()
