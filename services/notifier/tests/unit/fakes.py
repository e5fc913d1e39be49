"""In-memory fakes of the handler's ports, for millisecond tests of its decisions: the
notification rows (with rollback), the unit of work, a renderer, a sender and the metrics."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from devstack.testing import next_turn
from notifier.domain.model import Claim, Email, RenderedEmail, Status, message_id_for
from notifier.service_layer.ports import (
    NotificationRepository,
    NotificationsUnitOfWork,
    Settlements,
)


@dataclass
class Row:
    """A notifications row, as the table keeps it."""

    status: Status
    message_id: str
    recipient: str
    attempts: int = 1
    last_error: str | None = None


class FakeNotificationRepository(NotificationRepository):
    """The notifications table as a dict keyed by event_id, with the SQL repository's rules."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    async def claim_many(self, emails: Sequence[RenderedEmail]) -> dict[str, Claim]:
        claims = {}
        for rendered in emails:
            event_id = str(rendered.email.event_id)
            row = self.rows.get(event_id)
            if row is None:
                self.rows[event_id] = Row(
                    Status.SENDING, rendered.message_id, rendered.email.recipient
                )
                claims[event_id] = Claim.NEW
            elif row.status is Status.SENDING:
                row.attempts += 1
                claims[event_id] = Claim.RESEND
            else:
                claims[event_id] = Claim.DONE
        return claims

    def status(self, event_id: object) -> Status:
        return self.rows[str(event_id)].status


class FakeUnitOfWork(NotificationsUnitOfWork):
    """One transaction on the fake rows: a rollback restores them as they were at the start.
    `commits` counts the transactions kept; `fail_commits` makes the next commits raise (the
    database gone). The settles' pace and overlap are kept here too (`FakeSettlements`)."""

    def __init__(self) -> None:
        self.notifications = FakeNotificationRepository()
        self.commits = 0
        self.fail_commits: Exception | None = None
        self.settle_turns = 0
        self.fail_settles = 0  # that many of the next settles fail (their connection lost)
        self.settling = 0
        self.most_settling = 0
        self._before: dict[str, Row] = {}

    async def __aenter__(self) -> FakeUnitOfWork:
        await super().__aenter__()
        self._before = copy.deepcopy(self.notifications.rows)
        return self

    async def _commit(self) -> None:
        if self.fail_commits is not None:
            raise self.fail_commits
        self.commits += 1

    async def rollback(self) -> None:
        self.notifications.rows = self._before

    @property
    def rows(self) -> dict[str, Row]:
        return self.notifications.rows


class FakeSettlements(Settlements):
    """Settles on the unit of work's rows with the SQL statement's rules, each settle one write:
    counted in its `commits`, and failing as its commits do (`fail_commits`). A settle takes the
    unit of work's `settle_turns` turns of the event loop before it is kept (a round trip and a
    flush), while the lanes go on sending; `settling` and `most_settling` say how many settles
    were under way at once (the handler writes one at a time)."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    async def settle(
        self,
        sent: Sequence[str],
        failed: Mapping[str, str],
        errors: Sequence[tuple[str, str]],
    ) -> None:
        uow = self._uow
        uow.settling += 1
        uow.most_settling = max(uow.most_settling, uow.settling)
        try:
            for _ in range(uow.settle_turns):
                await next_turn()
            if uow.fail_commits is not None:
                raise uow.fail_commits
            if uow.fail_settles:
                uow.fail_settles -= 1
                raise ConnectionError("the settle's connection was lost")
        finally:
            uow.settling -= 1
        rows = uow.rows
        for event_id in sent:
            row = rows[event_id]
            row.status, row.last_error = Status.SENT, None
        for event_id, reason in failed.items():
            row = rows[event_id]
            row.status, row.last_error = Status.FAILED, reason
        for event_id, reason in errors:
            row = rows[event_id]
            if row.status is Status.SENDING:
                row.last_error = reason
        uow.commits += 1


class FakeRenderer:
    """Bodies that name the template; the real Message-ID."""

    def render(self, email: Email) -> RenderedEmail:
        return RenderedEmail(
            email=email,
            message_id=message_id_for(email.event_id, "notifier.test"),
            text=email.template,
            html=f"<p>{email.template}</p>",
        )


@dataclass
class FakeSender:
    """Records what it sends; raises what `refuse` holds for a recipient instead (an exception
    class or instance; TransientSendError, PermanentSendError...). `before_send` runs before
    each send (to look at the rows the moment an e-mail goes out). A send takes `turns` turns
    of the event loop (a conversation's round trips), so sends from several lanes overlap;
    `in_flight` and `most_in_flight` say by how much."""

    sent: list[RenderedEmail] = field(default_factory=list)
    refuse: dict[str, BaseException | type[BaseException]] = field(default_factory=dict)
    before_send: Callable[[RenderedEmail], None] | None = None
    turns: int = 0
    in_flight: list[RenderedEmail] = field(default_factory=list)
    most_in_flight: int = 0

    async def send(self, rendered: RenderedEmail) -> None:
        if self.before_send is not None:
            self.before_send(rendered)
        self.in_flight.append(rendered)
        self.most_in_flight = max(self.most_in_flight, len(self.in_flight))
        try:
            for _ in range(self.turns):
                await next_turn()
            error = self.refuse.get(rendered.email.recipient)
            if error is not None:
                raise error
            self.sent.append(rendered)
        finally:
            self.in_flight.remove(rendered)

    def to(self, recipient: str) -> list[RenderedEmail]:
        return [r for r in self.sent if r.email.recipient == recipient]


@dataclass
class FakeObserver:
    """The metrics, as counters."""

    notifications: Counter[tuple[str, str]] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)

    def notification(self, template: str, outcome: str) -> None:
        self.notifications[template, outcome] += 1

    def fact_ignored(self, event_type: str) -> None:
        self.ignored[event_type] += 1

    def count(self, outcome: str, template: str = "reservation_confirmed") -> int:
        return self.notifications[template, outcome]
