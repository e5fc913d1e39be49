"""A consumer's fetch wait: short while records flow, long once the consumer has been idle.

A fetch waits at the broker up to its wait for records. Apache Kafka answers as soon as any arrive,
so there a long wait costs nothing; the embedded broker often waits it out, so a short wait keeps
delivery fast (ADR 0007) but an idle consumer then fetches ten times a second, and answering those
fetches was most of an idle stack's CPU (BENCHMARKS.md). So the wait is `busy_ms` while fetches
bring records, and `idle_ms` once none has for `idle_after_s`; the first fetch that brings records
sets it back. On the embedded broker, the first record after a quiet spell can wait up to
`idle_ms` at each consumer it passes; the ones behind it do not.

The wait lives in aiokafka's fetcher (`_fetch_max_wait_ms`, read for each fetch request), and what
a fetch brought is what its `_proc_fetch_request` returns: two private names of aiokafka, used
here only, and checked by `test_faust_app.py` against the aiokafka in use.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any


class FetchWait:
    """Chooses each fetch's wait from what the fetches before it brought."""

    def __init__(
        self,
        busy_ms: int,
        idle_ms: int,
        idle_after_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.busy_ms = busy_ms
        self.idle_ms = max(idle_ms, busy_ms)  # idle never fetches more often than busy
        self.idle_after_s = idle_after_s
        self._clock = clock
        self._last_records_at = clock()
        self.current_ms = busy_ms

    def observed(self, brought_records: bool) -> int:
        """Record what a fetch brought; the wait for the next fetch."""
        now = self._clock()
        if brought_records:
            self._last_records_at = now
            self.current_ms = self.busy_ms
        elif now - self._last_records_at >= self.idle_after_s:
            self.current_ms = self.idle_ms
        return self.current_ms

    def install(self, fetcher: Any) -> None:
        """Govern a started aiokafka consumer's fetcher (`consumer._fetcher`)."""
        fetcher._fetch_max_wait_ms = self.current_ms
        process: Callable[..., Awaitable[bool]] = fetcher._proc_fetch_request

        async def governed(*args: Any, **kwargs: Any) -> bool:
            brought = await process(*args, **kwargs)
            fetcher._fetch_max_wait_ms = self.observed(bool(brought))
            return brought

        fetcher._proc_fetch_request = governed
