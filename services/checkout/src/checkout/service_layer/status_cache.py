"""When to ask Stripe again about an open session the success page is polling.

The success page polls every second: without this each poll of each open tab would be one Stripe
call (Stripe rate-limits the account, not the page). Within the lifetime the recorded status
answers; it is what Stripe said at most `ttl` seconds ago. Per process, bounded in size.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# Sessions whose last Stripe lookup time is remembered.
_MAX = 10_000


class StatusCache:
    """Remembers when Stripe was last asked about each session."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._asked: dict[str, float] = {}

    def due(self, session_id: str) -> bool:
        """True (and noted as asked now) when Stripe was not asked within the lifetime."""
        now = self._clock()
        asked = self._asked.get(session_id)
        if asked is not None and now - asked < self._ttl_s:
            return False
        if len(self._asked) >= _MAX:
            # Oldest first (insertion order): bounded memory whatever the number of sessions.
            for stale in list(self._asked)[: _MAX // 2]:
                del self._asked[stale]
        self._asked.pop(session_id, None)
        self._asked[session_id] = now
        return True
