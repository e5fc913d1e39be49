"""One fact in, at most one e-mail out: the claim, the send and the settle, in that order, for a
batch of facts at a time (a single fact is a batch of one).

The handler sees facts only (decoding records is `notifier.adapters.records`' work) and reaches
the outside through ports (`notifier.service_layer.ports`): a unit of work on the notification
rows, a renderer, a sender and an observer for the metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import aclosing, contextmanager
from dataclasses import dataclass, field

from backbone.logging import bound_ids, get_logger
from contracts.reservation import ReservationFact
from notifier.domain.compose import plan_email
from notifier.domain.errors import (
    PermanentRecipientError,
    PermanentSendError,
    SendError,
)
from notifier.domain.formatting import is_deliverable_address
from notifier.domain.model import Claim, UnknownFact
from notifier.service_layer.lanes import Lanes, Planned, Sends
from notifier.service_layer.ports import (
    NotificationsUnitOfWork,
    Observer,
    Renderer,
    Sender,
    Settlements,
)

__all__ = ["Links", "NotifyHandler", "Sender"]

log = get_logger(__name__)


@dataclass(frozen=True)
class Links:
    """Addresses and links the e-mails need beyond the fact itself."""

    operator_email: str
    checkout_url: str


@dataclass
class Plan:
    """A batch read: the e-mails to claim (the first occurrence of each fact), the repeats of a
    fact within the batch, and the types of facts we do not know (acknowledged, no e-mail)."""

    emails: list[Planned] = field(default_factory=list)
    repeats: list[Planned] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


class NotifyHandler:
    """The resilient agent's batch handler (through `notifier.adapters.records`): raise to
    retry, return to acknowledge.

    `handle_batch` claims every fact of the batch in one transaction (committed before anything
    is sent), sends the e-mails over `lanes` SMTP conversations at once (those about one
    reservation, order or dispute one after the other, in batch order: `service_layer/lanes.py`),
    while a settler task marks them sent (or failed) in one write (`Settlements`) per
    `settle_every` sends (sooner with several lanes), so that the lanes go on sending while a
    settle is written; no lane starts a send while `settle_every` are unmarked, so a crash
    re-sends at most that many accepted e-mails, whatever the number of lanes. If a send fails
    and the fault is not the message's (an SMTP outage, or our configuration), no lane starts
    another, what was sent is settled first, then the batch raises. An outage is waited out:
    the processor tries the whole batch again, in order, until the server is back
    (backbone.kafka.classify); any other failure is tried again in halves, down to single facts,
    with bounded retries and the dead-letter topic. Every e-mail already accepted is `sent` by
    then, so no retry sends it again. A refusal for good (5xx) is recorded `failed` and counted
    (notifier_notifications_total{outcome="failed"}).
    """

    def __init__(
        self,
        uow: Callable[[], NotificationsUnitOfWork],
        settlements: Callable[[], Settlements],
        renderer: Renderer,
        sender: Sender,
        *,
        links: Links,
        observer: Observer,
        settle_every: int = 1,
        lanes: int = 1,
    ) -> None:
        if settle_every < 1 or lanes < 1:
            raise ValueError("settle_every and lanes must be at least 1")
        self._uow = uow
        self._settlements = settlements
        self._renderer = renderer
        self._sender = sender
        self._links = links
        self._observer = observer
        self._settle_every = settle_every
        self._lanes = lanes
        # Settle once this many sends are unmarked: with one lane, every `settle_every`; with
        # more, early enough that each other lane can finish a send meanwhile within budget.
        # (Settling as soon as any is unmarked was tried: more, smaller writes, each waiting for
        # its commit to be flushed, and fewer e-mails a second, BENCHMARKS.md.)
        self._settle_at = max(1, settle_every - lanes + 1)

    async def handle_batch(self, facts: Sequence[ReservationFact | UnknownFact]) -> None:
        """Handle facts of reservation.events (or of the retry topic) together, in order.

        Counters and log lines of a fact are written once its batch is through, so a batch
        tried again in halves does not count a fact twice.
        """
        plan = self._plan(facts)
        repeats, sends = plan.repeats, Sends()
        if plan.emails:
            async with self._uow() as uow:
                claims = await uow.notifications.claim_many([p.rendered for p in plan.emails])
                await uow.commit()
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
            self._observer.fact_ignored(event_type)
            log.info("fact.ignored_unknown_type", fact_type=event_type)
        for p in repeats:
            self._observer.notification(p.template, "duplicate")
            with _bound(p):
                log.info("notification.already_settled")

    def _plan(self, facts: Sequence[ReservationFact | UnknownFact]) -> Plan:
        """Compose and render, without I/O."""
        plan, seen = Plan(), set[str]()
        for fact in facts:
            if isinstance(fact, UnknownFact):
                plan.ignored.append(fact.event_type)
                continue
            email = plan_email(
                fact,
                operator_email=self._links.operator_email,
                checkout_url=self._links.checkout_url,
            )
            p = Planned(
                self._renderer.render(email),
                fact.partition_key(),
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
        """Send them over the lanes while a settler marks them sent (or failed) as they go;
        raise the first failure once what was sent is marked."""
        if not to_send:  # every fact of the batch was settled before: no lane, no settler
            return Sends()
        lanes = Lanes(to_send, self._settle_every)
        async with aclosing(self._settlements()) as settlements:
            tasks = [
                asyncio.create_task(self._lane(lanes))
                for _ in range(min(self._lanes, len(to_send)))
            ]
            settler = asyncio.create_task(self._settler(lanes, settlements))
            try:
                await asyncio.wait(tasks)
                lanes.close()
                await settler
            except BaseException:
                # Cancelled (the worker stopping): so are the lanes, and what was accepted
                # stays so.
                for task in [*tasks, settler]:
                    task.cancel()
                await asyncio.gather(*tasks, settler, return_exceptions=True)
                await self._settle_before_raising(lanes, settlements)
                raise
            if lanes.failure is not None:
                await self._settle_before_raising(lanes, settlements)
                raise lanes.failure
            await self._settle(lanes, settlements)
        return lanes.sends

    async def _lane(self, lanes: Lanes) -> None:
        """One conversation's share of the batch: take the next e-mail it may send, send it."""
        try:
            while (p := await lanes.take()) is not None:
                await self._send_one(lanes, p)
        except BaseException as exc:  # cancelled mid-send
            lanes.fail(exc)
            raise

    async def _settler(self, lanes: Lanes, settlements: Settlements) -> None:
        """Settle whenever `settle_at` sends are unmarked, while the lanes go on sending within
        the budget, until they are through (`_send` settles what is left)."""
        try:
            while not lanes.closed and lanes.failure is None:
                if lanes.sends.unmarked >= self._settle_at:
                    await self._settle(lanes, settlements)
                else:
                    await lanes.changed()
        except Exception as exc:  # a settle failed (the database): the batch stops
            lanes.fail(exc)

    async def _send_one(self, lanes: Lanes, p: Planned) -> None:
        outcome = False
        try:
            with _bound(p):
                recipient = p.rendered.email.recipient
                if not is_deliverable_address(recipient):
                    raise PermanentRecipientError(f"unusable address {recipient!r}")
                await self._sender.send(p.rendered)
        except PermanentSendError as exc:
            lanes.sends.failed.append((p, str(exc)))
            outcome = True
        except SendError as exc:  # an outage, or our configuration: tried again
            self._observer.notification(p.template, "retried")
            lanes.sends.errors.append((p.event_id, str(exc)))
            lanes.fail(exc)
        except Exception as exc:  # a bug: what was accepted stays accepted
            lanes.fail(exc)
        else:
            lanes.sends.sent.append(p)
            outcome = True
        finally:
            lanes.finished(p, outcome=outcome)

    async def _settle(self, lanes: Lanes, settlements: Settlements) -> None:
        """Mark what was sent and not marked yet `sent`, what was refused `failed`, and record
        the transient errors on their rows (left `sending`), in one write."""
        sends = lanes.sends
        sent = sends.sent[sends.marked_sent :]
        failed = sends.failed[sends.marked_failed :]
        errors, sends.errors = sends.errors, []
        if not (sent or failed or errors):
            return
        try:
            await settlements.settle(
                [p.event_id for p in sent],
                {p.event_id: reason for p, reason in failed},
                errors,
            )
        except BaseException:
            sends.errors[:0] = errors
            raise
        sends.marked_sent += len(sent)
        sends.marked_failed += len(failed)
        lanes.marked(len(sent) + len(failed))

    async def _settle_before_raising(self, lanes: Lanes, settlements: Settlements) -> None:
        """Settle on the way out of a failed batch, best effort and not cut short by a second
        cancellation: the failure that got us here must reach the caller even if the database
        fails too (the rows then stay `sending`, and a retry sends them again)."""
        try:
            await asyncio.shield(self._settle(lanes, settlements))
        except Exception as exc:
            sent = len(lanes.sends.sent)
            log.warning("notification.settle_failed", error=str(exc)[:300], sent=sent)
            return
        self._count(lanes.sends)

    def _count(self, sends: Sends) -> None:
        for p in sends.sent:
            self._observer.notification(p.template, "sent")
            with _bound(p):
                log.info("notification.sent", message_id=p.rendered.message_id)
        for p, reason in sends.failed:
            self._observer.notification(p.template, "failed")
            with _bound(p):
                log.error("notification.failed_permanently", reason=reason)


@contextmanager
def _bound(p: Planned) -> Iterator[None]:
    with bound_ids(**p.ids):
        yield
