"""One fact in, at most one e-mail out: the claim, the send and the settle, in that order."""

from __future__ import annotations

from dataclasses import dataclass
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
from notifier.domain.errors import PermanentRecipientError, TransientSendError
from notifier.domain.formatting import is_deliverable_address
from notifier.domain.model import Claim, RenderedEmail

log = get_logger(__name__)


class Sender(Protocol):
    """Sends a rendered e-mail, raising TransientSendError or PermanentRecipientError."""

    async def send(self, rendered: RenderedEmail) -> None:
        """Send it."""


@dataclass(frozen=True)
class Links:
    """Addresses and links the e-mails need beyond the fact itself."""

    operator_email: str
    checkout_url: str


def decode(message: Message) -> ReservationFact | None:
    """The fact in `message`; None for a type we do not know; PermanentError if malformed."""
    if message.value is None:
        raise PermanentError("empty value on the facts topic")
    try:
        return parse_fact(message.value)
    except UnknownFactTypeError as exc:
        # A newer fact published beside the ones we know: not ours to e-mail about (yet).
        FACTS_IGNORED.labels(exc.event_type).inc()
        log.info("fact.ignored_unknown_type", fact_type=exc.event_type)
        return None
    except (ValidationError, ValueError) as exc:
        raise PermanentError(f"malformed reservation fact: {exc}") from exc


class NotifyHandler:
    """The resilient agent's handler: raise to retry, return to acknowledge."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        renderer: Renderer,
        sender: Sender,
        links: Links,
    ) -> None:
        self._sessions = sessions
        self._renderer = renderer
        self._sender = sender
        self._links = links

    async def __call__(self, message: Message) -> None:
        """Handle one record of reservation.events (or of the group's retry topic)."""
        fact = decode(message)
        if fact is None:
            return
        email = plan_email(
            fact,
            operator_email=self._links.operator_email,
            checkout_url=self._links.checkout_url,
        )
        with bound_ids(
            event_id=str(fact.event_id),
            correlation_id=fact.correlation_id,
            template=email.template,
            reservation_id=getattr(fact, "reservation_id", None),
            order_id=getattr(fact, "order_id", None),
            session_id=getattr(fact, "session_id", None),
        ):
            await self.notify(self._renderer.render(email))

    async def notify(self, rendered: RenderedEmail) -> None:
        """Claim (committed before sending), send, then mark sent or failed."""
        template, event_id = rendered.email.template, str(rendered.email.event_id)
        async with self._sessions() as session, session.begin():
            claimed = await repository.claim(session, rendered)
        if claimed is Claim.DONE:
            NOTIFICATIONS.labels(template, "duplicate").inc()
            log.info("notification.already_settled")
            return
        if claimed is Claim.RESEND:
            # Sent or not before a crash or a failed attempt: the same Message-ID tells.
            log.warning("notification.resending", message_id=rendered.message_id)
        try:
            if not is_deliverable_address(rendered.email.recipient):
                raise PermanentRecipientError(f"unusable address {rendered.email.recipient!r}")
            await self._sender.send(rendered)
        except PermanentRecipientError as exc:
            async with self._sessions() as session, session.begin():
                await repository.mark_failed(session, event_id, str(exc))
            NOTIFICATIONS.labels(template, "failed").inc()
            log.error("notification.failed_permanently", reason=str(exc))
            return
        except TransientSendError as exc:
            NOTIFICATIONS.labels(template, "retried").inc()
            await self._record_error(event_id, str(exc))
            raise
        async with self._sessions() as session, session.begin():
            await repository.mark_sent(session, event_id)
        NOTIFICATIONS.labels(template, "sent").inc()
        log.info("notification.sent", message_id=rendered.message_id)

    async def _record_error(self, event_id: str, reason: str) -> None:
        # Best effort: the send error must reach the retry (and the DLQ) even if this fails.
        try:
            async with self._sessions() as session, session.begin():
                await repository.record_error(session, event_id, reason)
        except Exception as exc:
            log.warning("notification.record_error_failed", error=str(exc)[:300])
