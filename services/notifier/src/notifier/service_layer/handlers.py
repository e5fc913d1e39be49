"""One fact in, at most one e-mail out: the claim, the send and the settle, in that order, for a
batch of facts at a time (a single fact is a batch of one)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.kafka.message import Message
from backbone.kafka.retry import PermanentError
from backbone.logging import bound_ids, get_logger
from contracts.reservation import ReservationFact, UnknownFactTypeError, parse_fact
from notifier.adapters import repository
from notifier.adapters.metrics import FACTS_IGNORED, NOTIFICATIONS
from notifier.adapters.templates import Renderer
from notifier.domain.compose import plan_email
from notifier.domain.errors import (
    PermanentRecipientError,
    PermanentSendError,
    SendError,
)
from notifier.domain.formatting import is_deliverable_address
from notifier.domain.model import Claim, RenderedEmail

log = get_logger(__name__)


class Sender(Protocol):
    """Sends a rendered e-mail, raising TransientSendError (an outage), PermanentSendError (a
    refusal for good) or SendError (our configuration)."""

    async def send(self, rendered: RenderedEmail) -> None:
        """Send it."""


@dataclass(frozen=True)
class Links:
    """Addresses and links the e-mails need beyond the fact itself."""

    operator_email: str
    checkout_url: str


def read_fact(message: Message) -> ReservationFact | str:
    """The fact in `message`, or the event type of a fact we do not know (without counting it);
    PermanentError if malformed."""
    if message.value is None:
        raise PermanentError("empty value on the facts topic")
    try:
        return parse_fact(message.value)
    except UnknownFactTypeError as exc:
        # A newer fact published beside the ones we know: not ours to e-mail about (yet).
        return exc.event_type
    except (ValidationError, ValueError) as exc:
        raise PermanentError(f"malformed reservation fact: {exc}") from exc


def decode(message: Message) -> ReservationFact | None:
    """The fact in `message`; None for a type we do not know; PermanentError if malformed."""
    fact = read_fact(message)
    return None if isinstance(fact, str) else fact


@dataclass(frozen=True)
class Planned:
    """A fact's rendered e-mail, and the ids its log lines carry."""

    rendered: RenderedEmail
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
    """What a batch's sends came to so far: accepted by the server, or refused for good; and how
    many of each are marked so (the rest are `sending` in the database)."""

    sent: list[Planned] = field(default_factory=list)
    failed: list[tuple[Planned, str]] = field(default_factory=list)
    marked_sent: int = 0
    marked_failed: int = 0

    @property
    def unmarked(self) -> int:
        """Sends whose outcome is not marked yet: what a crash now would send again."""
        return len(self.sent) - self.marked_sent + len(self.failed) - self.marked_failed


@dataclass
class Plan:
    """A batch read: the e-mails to claim (the first occurrence of each fact), the repeats of a
    fact within the batch, and the types of facts we do not know (acknowledged, no e-mail)."""

    emails: list[Planned] = field(default_factory=list)
    repeats: list[Planned] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


class NotifyHandler:
    """The resilient agent's batch handler (`handle_batch`): raise to retry, return to acknowledge.

    `handle_batch` claims every fact of the batch in one transaction (committed before anything
    is sent), sends the e-mails one after the other, and marks them sent (or failed) in one
    transaction per `settle_every` sends: a crash re-sends at most that many accepted e-mails.
    If a send fails and the fault is not the message's (an SMTP outage, or our configuration),
    what was sent before it is settled first, then the batch raises. An outage is waited out:
    the processor tries the whole batch again, in order, until the server is back
    (backbone.kafka.failures); any other failure is tried again in halves, down to single facts
    (a batch of one) with bounded retries and the dead-letter topic. Every e-mail
    already accepted is `sent` by then, so no retry sends it again. A refusal for good (5xx)
    is recorded `failed` and counted (notifier_notifications_total{outcome="failed"}).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        renderer: Renderer,
        sender: Sender,
        links: Links,
        *,
        settle_every: int = 1,
    ) -> None:
        if settle_every < 1:
            raise ValueError("settle_every must be at least 1")
        self._sessions = sessions
        self._renderer = renderer
        self._sender = sender
        self._links = links
        self._settle_every = settle_every

    async def handle_batch(self, messages: Sequence[Message]) -> None:
        """Handle records of reservation.events (or of the retry topic) together, in order.

        Counters and log lines of a fact are written once its batch is through, so a batch
        tried again in halves does not count a fact twice.
        """
        plan = self._plan(messages)
        repeats, sends = plan.repeats, Sends()
        if plan.emails:
            async with self._sessions() as session, session.begin():
                claims = await repository.claim_many(session, [p.rendered for p in plan.emails])
            to_send = []
            for p in plan.emails:
                claimed = claims[p.event_id]
                if claimed is Claim.DONE:
                    repeats.append(p)
                    continue
                if claimed is Claim.RESEND:
                    # Sent or not before a crash or a failed attempt: the same Message-ID tells.
                    with _bound(p):
                        log.warning("notification.resending", message_id=p.rendered.message_id)
                to_send.append(p)
            sends = await self._send(to_send)
        self._count(sends)
        for event_type in plan.ignored:
            FACTS_IGNORED.labels(event_type).inc()
            log.info("fact.ignored_unknown_type", fact_type=event_type)
        for p in repeats:
            NOTIFICATIONS.labels(p.template, "duplicate").inc()
            with _bound(p):
                log.info("notification.already_settled")

    def _plan(self, messages: Sequence[Message]) -> Plan:
        """Decode, compose and render, without I/O. A malformed fact raises PermanentError before
        anything is claimed or sent."""
        plan, seen = Plan(), set[str]()
        for message in messages:
            fact = read_fact(message)
            if isinstance(fact, str):
                plan.ignored.append(fact)
                continue
            email = plan_email(
                fact,
                operator_email=self._links.operator_email,
                checkout_url=self._links.checkout_url,
            )
            p = Planned(
                self._renderer.render(email),
                {
                    "event_id": str(fact.event_id),
                    "correlation_id": fact.correlation_id,
                    "template": email.template,
                    "reservation_id": getattr(fact, "reservation_id", None),
                    "order_id": getattr(fact, "order_id", None),
                    "session_id": getattr(fact, "session_id", None),
                },
            )
            if p.event_id in seen:
                plan.repeats.append(p)
            else:
                seen.add(p.event_id)
                plan.emails.append(p)
        return plan

    async def _send(self, to_send: list[Planned]) -> Sends:
        """Send each in order, marking them sent (or failed) every `settle_every` sends."""
        sends = Sends()
        for p in to_send:
            try:
                with _bound(p):
                    recipient = p.rendered.email.recipient
                    if not is_deliverable_address(recipient):
                        raise PermanentRecipientError(f"unusable address {recipient!r}")
                    await self._sender.send(p.rendered)
            except PermanentSendError as exc:
                sends.failed.append((p, str(exc)))
            except SendError as exc:  # an outage, or our configuration: tried again
                NOTIFICATIONS.labels(p.template, "retried").inc()
                await self._settle_before_raising(sends, (p.event_id, str(exc)))
                raise
            except BaseException:
                # Cancelled (the worker stopping) or a bug: what was accepted stays accepted.
                await self._settle_before_raising(sends)
                raise
            else:
                sends.sent.append(p)
            if sends.unmarked >= self._settle_every:
                await self._settle(sends)
        await self._settle(sends)
        return sends

    async def _settle(self, sends: Sends, error: tuple[str, str] | None = None) -> None:
        """Mark what was sent and not marked yet `sent`, what was refused `failed`, and record
        a transient error on its row (left `sending`), in one transaction."""
        sent = sends.sent[sends.marked_sent :]
        failed = sends.failed[sends.marked_failed :]
        if not (sent or failed or error):
            return
        async with self._sessions() as session, session.begin():
            await repository.mark_sent(session, [p.event_id for p in sent])
            await repository.mark_failed(session, {p.event_id: reason for p, reason in failed})
            if error is not None:
                await repository.record_error(session, *error)
        sends.marked_sent, sends.marked_failed = len(sends.sent), len(sends.failed)

    async def _settle_before_raising(
        self, sends: Sends, error: tuple[str, str] | None = None
    ) -> None:
        """Settle on the way out of a failed batch, best effort and not cut short by a second
        cancellation: the failure that got us here must reach the caller even if the database
        fails too (the rows then stay `sending`, and a retry sends them again)."""
        try:
            await asyncio.shield(self._settle(sends, error))
        except Exception as exc:
            log.warning("notification.settle_failed", error=str(exc)[:300], sent=len(sends.sent))
            return
        self._count(sends)

    @staticmethod
    def _count(sends: Sends) -> None:
        for p in sends.sent:
            NOTIFICATIONS.labels(p.template, "sent").inc()
            with _bound(p):
                log.info("notification.sent", message_id=p.rendered.message_id)
        for p, reason in sends.failed:
            NOTIFICATIONS.labels(p.template, "failed").inc()
            with _bound(p):
                log.error("notification.failed_permanently", reason=reason)


@contextmanager
def _bound(p: Planned) -> Iterator[None]:
    with bound_ids(**p.ids):
        yield
