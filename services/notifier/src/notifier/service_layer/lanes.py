"""A batch's e-mails spread over several SMTP conversations at once, in order where it matters.

Each lane (one per conversation) takes the next e-mail of the batch whose key (the reservation,
order or dispute it is about) has no e-mail under way in another lane, so the e-mails about one
key go out one after the other, in batch order, as over a single conversation; e-mails about
different keys overlap. A lane takes an e-mail only while fewer than `budget` (the handler's
`settle_every`) are taken and not yet marked sent or failed: whatever the number of lanes, a
crash re-sends at most that many accepted e-mails.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from notifier.domain.model import RenderedEmail


@dataclass(frozen=True)
class Planned:
    """A fact's rendered e-mail, the key that orders it, and the ids its log lines carry."""

    rendered: RenderedEmail
    key: str
    ids: dict[str, object]

    @property
    def event_id(self) -> str:
        """The fact's event_id, the notification row's key."""
        return str(self.rendered.email.event_id)

    @property
    def template(self) -> str:
        """The e-mail's template (the metrics' label)."""
        return self.rendered.email.template


@dataclass
class Sends:
    """What a batch's sends came to so far: accepted by the server, or refused for good (in the
    order they finished), how many of each are marked so (the rest are `sending` in the
    database), and the transient errors to record on rows that stay `sending`."""

    sent: list[Planned] = field(default_factory=list)
    failed: list[tuple[Planned, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    marked_sent: int = 0
    marked_failed: int = 0

    @property
    def unmarked(self) -> int:
        """Sends whose outcome is not marked yet: what a crash now would send again."""
        return len(self.sent) - self.marked_sent + len(self.failed) - self.marked_failed


class Lanes:
    """The shared state of one batch's lanes: what is left to send, the keys under way, the
    budget of unmarked sends, and the first failure (after which no lane takes anything)."""

    def __init__(self, to_send: list[Planned], budget: int) -> None:
        self.sends = Sends()
        self.failure: BaseException | None = None
        self.closed = False  # the lanes are through: nothing more will be sent
        self._left = list(to_send)
        self._busy: set[str] = set()
        self._budget = budget
        self._taken = 0  # taken and not marked yet (under way, or finished and unmarked)
        self._changed = asyncio.Event()

    async def take(self) -> Planned | None:
        """The next e-mail this lane may send, waiting for a key or the budget to free up; None
        once nothing is left for it (all taken, or the batch failed)."""
        while self.failure is None and self._left:
            if self._taken < self._budget:
                for at, p in enumerate(self._left):
                    if p.key not in self._busy:
                        del self._left[at]
                        self._busy.add(p.key)
                        self._taken += 1
                        return p
            changed = self._changed
            await changed.wait()
        return None

    def finished(self, p: Planned, *, outcome: bool) -> None:
        """`p`'s send is over: its key is free; without an outcome to mark (it raised), its
        place in the budget too."""
        self._busy.discard(p.key)
        if not outcome:
            self._taken -= 1
        self._notify()

    def fail(self, exc: BaseException) -> None:
        """Stop: no lane takes another e-mail; the first failure is the batch's."""
        if self.failure is None:
            self.failure = exc
        self._notify()

    def marked(self, count: int) -> None:
        """`count` outcomes are marked: their places in the budget are free."""
        self._taken -= count
        self._notify()

    def close(self) -> None:
        """Every lane is through."""
        self.closed = True
        self._notify()

    async def changed(self) -> None:
        """Wait for the next change: a send over, a failure, outcomes marked, or the close."""
        await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
