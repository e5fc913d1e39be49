"""What the service layer needs from the outside, as ports: where rows are claimed and settled,
how an e-mail is rendered and sent, and what is counted. Adapters implement them; bootstrap
wires them; the unit tests drive the handler with in-memory fakes of each."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Protocol

from backbone.db import AbstractUnitOfWork
from notifier.domain.model import Claim, Email, RenderedEmail


class NotificationRepository(abc.ABC):
    """The notification rows, one per fact, claimed before the send (settled after it through
    `Settlements`). Claims happen in the caller's transaction (its unit of work)."""

    @abc.abstractmethod
    async def claim_many(self, emails: Sequence[RenderedEmail]) -> dict[str, Claim]:
        """Claim the row of each e-mail's fact, keyed by event_id: NEW (inserted `sending`),
        RESEND (found `sending`: a previous attempt failed, or a worker died after sending) or
        DONE (found `sent` or `failed`). A NEW or RESEND claim counts an attempt."""


class NotificationsUnitOfWork(AbstractUnitOfWork):
    """One transaction on the notifications (explicit `commit()`, rollback on exit)."""

    notifications: NotificationRepository


class Settlements(abc.ABC):
    """Where a batch's outcomes are marked while its sends go on, until `aclose()` (the batch's
    sending is over). Each `settle` is one write, atomic and kept once it returns: no
    transaction spans two, so marking costs one round trip to the database, and the budget of
    unmarked sends (what a crash would send again) frees up that much sooner."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release what the settles held (a database connection)."""

    @abc.abstractmethod
    async def settle(
        self,
        sent: Sequence[str],
        failed: Mapping[str, str],
        errors: Sequence[tuple[str, str]],
    ) -> None:
        """In one write: `sent` (event_ids) accepted by the server, never to be sent again;
        `failed` (event_id -> reason) refused for good; `errors` (event_id, reason) transient
        failures recorded on rows that stay `sending` (a retry or replay sends them again)."""


class Sender(Protocol):
    """Sends a rendered e-mail, raising TransientSendError (an outage), PermanentSendError (a
    refusal for good) or SendError (our configuration). Safe to call from several tasks at once:
    it holds as many conversations open as the handler has lanes."""

    async def send(self, rendered: RenderedEmail) -> None:
        """Send it."""


class Renderer(Protocol):
    """Renders an e-mail's bodies and fixes its Message-ID."""

    def render(self, email: Email) -> RenderedEmail:
        """Both parts of `email`, and its Message-ID."""


class Observer(Protocol):
    """What the handler reports beyond its log lines (the metrics)."""

    def notification(self, template: str, outcome: str) -> None:
        """One e-mail's outcome: sent, failed, retried or duplicate."""

    def fact_ignored(self, event_type: str) -> None:
        """A fact of a type this notifier does not know was acknowledged without an e-mail."""
