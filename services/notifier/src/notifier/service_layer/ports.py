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
    """The notification rows, one per fact: claimed before the send, settled after it. Writes
    happen in the caller's transaction (its unit of work); none of them commits."""

    @abc.abstractmethod
    async def claim_many(self, emails: Sequence[RenderedEmail]) -> dict[str, Claim]:
        """Claim the row of each e-mail's fact, keyed by event_id: NEW (inserted `sending`),
        RESEND (found `sending`: a previous attempt failed, or a worker died after sending) or
        DONE (found `sent` or `failed`). A NEW or RESEND claim counts an attempt."""

    @abc.abstractmethod
    async def mark_sent(self, event_ids: Sequence[str]) -> None:
        """The server accepted these messages: never send them again."""

    @abc.abstractmethod
    async def mark_failed(self, reasons: Mapping[str, str]) -> None:
        """Refused for good (event_id -> reason): keep the reason, never retry on redelivery."""

    @abc.abstractmethod
    async def record_error(self, event_id: str, reason: str) -> None:
        """A transient failure: the row stays `sending` (a retry or replay sends it again)."""


class NotificationsUnitOfWork(AbstractUnitOfWork):
    """One transaction on the notifications (explicit `commit()`, rollback on exit)."""

    notifications: NotificationRepository


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
