"""The batch path on its own, on the real PostgreSQL, mail sink and broker (no worker process):
one claim and one settle per batch, each fact e-mailed once, and a failed batch that leaves
nothing to send twice when it is tried again in halves; over one SMTP conversation (where the
batch's order and the connection count are exact) and over several at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from backbone.kafka import Message, MessageProcessor
from backbone.settings import DatabaseSettings, RetrySettings
from contracts import headers as h
from contracts.reservation import FactBase
from devstack.testing import eventually, read_topic
from mail_sink import Fault
from notifier.adapters.metrics import CountingDeadLetterWriter
from notifier.adapters.migrate import upgrade
from notifier.adapters.smtp import SmtpSender
from notifier.bootstrap import Container as Notifier
from notifier.bootstrap import build
from notifier.domain.errors import TransientSendError
from notifier.domain.model import RenderedEmail
from notifier.settings import Settings

from .conftest import Stack
from .support import confirmed, mails_to, notification

pytestmark = pytest.mark.integration


@asynccontextmanager
async def _built(
    stack: Stack,
    make_sender: Callable[[Settings], SmtpSender] = SmtpSender,
    **settings: Any,
) -> AsyncIterator[Notifier]:
    """The worker's handler and adapters, built by its composition root, in this process."""
    database = DatabaseSettings(url=SecretStr(stack.database_url))
    await asyncio.to_thread(upgrade, database)
    config = Settings(
        consumer_group=stack.group,
        source_topic=stack.topic,
        smtp_port=stack.sink.smtp_port,
        smtp_timeout_s=3,
        operator_email=stack.operator,
        **settings,
    )
    sender = make_sender(config)
    built = build(config, kafka=stack.kafka, database=database, sender=sender)
    try:
        yield built
    finally:
        await sender.close()
        await built.producer.stop()
        await built.engine.dispose()


@pytest.fixture
async def notifier(stack: Stack) -> AsyncIterator[Notifier]:
    """One SMTP conversation: the e-mails go out in batch order, one after the other."""
    async with _built(stack, smtp_connections=1) as built:
        yield built


@pytest.fixture
async def lanes(stack: Stack) -> AsyncIterator[Notifier]:
    """Four SMTP conversations at once (the default)."""
    async with _built(stack, smtp_connections=4) as built:
        yield built


def _records(stack: Stack, *facts: FactBase) -> list[Message]:
    return [
        Message(
            topic=stack.topic,
            partition=0,
            offset=offset,
            key=fact.partition_key().encode(),
            value=fact.model_dump_json().encode(),
            headers=((h.EVENT_ID, str(fact.event_id).encode()),),
        )
        for offset, fact in enumerate(facts)
    ]


def _count(outcome: str) -> float:
    labels = {"template": "reservation_confirmed", "outcome": outcome}
    return REGISTRY.get_sample_value("notifier_notifications_total", labels) or 0.0


async def test_one_batch_sends_each_fact_once_and_settles_refusals(
    stack: Stack, notifier: Notifier, user: Callable[[str], str]
) -> None:
    stack.sink.faults.set(Fault("reject_recipient", code=550, recipient=user("refused")))
    a, b = confirmed(stack.unique, user("a")), confirmed(stack.unique, user("b"))
    refused = confirmed(stack.unique, user("refused"))
    unusable = confirmed(stack.unique, "not an address")
    before = {outcome: _count(outcome) for outcome in ("sent", "failed", "duplicate")}

    await notifier.handler.handle_batch(_records(stack, a, b, a, refused, unusable, a))

    for fact in (a, b):
        [mail] = await mails_to(stack.api, fact.user_email)
        assert mail["MessageID"] == f"{fact.event_id}@notifier.payment-backbone"
        row = notification(stack.database_url, fact.event_id)
        assert row is not None
        assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 1, None)
    assert await mails_to(stack.api, user("refused")) == []
    for fact, reason in ((refused, "550"), (unusable, "unusable address")):
        row = notification(stack.database_url, fact.event_id)
        assert row is not None
        assert row["status"] == "failed"
        assert reason in row["last_error"]
    assert {outcome: _count(outcome) - before[outcome] for outcome in before} == {
        "sent": 2,
        "failed": 2,
        "duplicate": 2,  # a's two repeats within the batch
    }
    # One connection for the whole batch: the refusal was followed by RSET, not a reconnect.
    assert isinstance(notifier.sender, SmtpSender)
    assert notifier.sender.connections == 1

    # Delivered again (a redelivery after a crash before the commit of offsets): nothing sent.
    await notifier.handler.handle_batch(_records(stack, a, b, refused, unusable))
    assert len(await mails_to(stack.api, a.user_email)) == 1
    assert len(await mails_to(stack.api, b.user_email)) == 1
    assert _count("duplicate") - before["duplicate"] == 2 + 4


async def test_transient_failure_mid_batch_resends_nothing_already_accepted(
    stack: Stack, notifier: Notifier, user: Callable[[str], str]
) -> None:
    stack.sink.faults.set(Fault("reject_recipient", code=451, recipient=user("deferred")))
    a, b, c, d = (confirmed(stack.unique, user(name)) for name in "abcd")
    deferred = confirmed(stack.unique, user("deferred"))
    records = _records(stack, a, b, deferred, c, d)

    # The batch's one try: a and b go out, the deferred recipient fails, the batch raises...
    with pytest.raises(TransientSendError, match="451"):
        await notifier.handler.handle_batch(records)
    # ...with a and b already marked sent, and c and d claimed but not sent.
    for fact, status in ((a, "sent"), (b, "sent"), (deferred, "sending"), (c, "sending")):
        row = notification(stack.database_url, fact.event_id)
        assert row is not None
        assert row["status"] == status, fact.user_email
    deferred_row = notification(stack.database_url, deferred.event_id)
    assert deferred_row is not None
    assert "451" in deferred_row["last_error"]
    assert [len(await mails_to(stack.api, f.user_email)) for f in (a, b, c, d)] == [1, 1, 0, 0]

    # What the agent does with a batch that met an outage: the whole batch again, in order,
    # for as long as it lasts (never split, never dead-lettered), then on once the server is back.
    processor = MessageProcessor(
        stack.group,
        notifier.handler.handle_batch,
        RetrySettings(
            max_attempts=2,
            backoff_initial_s=0.01,
            backoff_max_s=0.01,
            transient_backoff_initial_s=0.01,
            transient_backoff_max_s=0.05,
        ),
        CountingDeadLetterWriter(notifier.producer, stack.group),
    )
    task = asyncio.create_task(processor.process_batch(records))

    async def waited_past_the_budget() -> bool:
        row = notification(stack.database_url, deferred.event_id)
        return row is not None and row["attempts"] >= 6

    await eventually(waited_past_the_budget, timeout=60, what="tries during the outage")
    assert not task.done()
    # Nothing after the deferred fact went out meanwhile: the batch holds its order.
    assert [len(await mails_to(stack.api, f.user_email)) for f in (c, d)] == [0, 0]
    stack.sink.faults.set(None)
    assert await asyncio.wait_for(task, timeout=60) == [True] * 5

    assert [len(await mails_to(stack.api, f.user_email)) for f in (a, b, c, d)] == [1, 1, 1, 1]
    assert len(await mails_to(stack.api, user("deferred"))) == 1
    for fact in (a, b):
        row = notification(stack.database_url, fact.event_id)
        assert row is not None
        assert row["attempts"] == 1  # never claimed for sending again
    for fact in (deferred, c, d):
        row = notification(stack.database_url, fact.event_id)
        assert row is not None
        assert row["status"] == "sent"
    assert await read_topic(stack.kafka, stack.dlq) == []


async def test_malformed_fact_in_a_batch_is_dead_lettered_alone(
    stack: Stack, notifier: Notifier, user: Callable[[str], str]
) -> None:
    a, b = confirmed(stack.unique, user("a")), confirmed(stack.unique, user("b"))
    [first, second] = _records(stack, a, b)
    malformed = Message(stack.topic, 0, 9, b"k", b'{"event_type": "reservation.confirmed.v1"}')
    unknown = Message(stack.topic, 0, 10, b"k", b'{"event_type": "reservation.moved.v9"}')
    processor = MessageProcessor(
        stack.group,
        notifier.handler.handle_batch,
        RetrySettings(max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.01),
        CountingDeadLetterWriter(notifier.producer, stack.group),
    )
    labels = {"event_type": "reservation.moved.v9"}
    ignored_before = REGISTRY.get_sample_value("notifier_facts_ignored_total", labels) or 0.0

    results = await processor.process_batch([first, unknown, malformed, second])

    assert results == [True, True, False, True]
    assert [len(await mails_to(stack.api, f.user_email)) for f in (a, b)] == [1, 1]
    [dead] = await read_topic(stack.kafka, stack.dlq)
    assert dead.value == malformed.value
    assert dead.header(h.DLQ_ATTEMPTS) == "1"  # permanent: no retries
    # Counted once, though its batch was tried whole, then in halves.
    ignored_after = REGISTRY.get_sample_value("notifier_facts_ignored_total", labels)
    assert ignored_after == ignored_before + 1


async def test_lanes_send_each_fact_once_over_several_connections(
    stack: Stack, lanes: Notifier, user: Callable[[str], str]
) -> None:
    others = [confirmed(stack.unique, user(f"o{i}")) for i in range(12)]
    same = "res-" + stack.unique + "-same"
    ours = [confirmed(stack.unique, user(f"ours{i}"), reservation_id=same) for i in range(3)]
    batch = [ours[0], *others[:6], ours[1], *others[6:], ours[2]]

    await lanes.handler.handle_batch(_records(stack, *batch))

    for fact in batch:
        [mail] = await mails_to(stack.api, fact.user_email)
        assert mail["MessageID"] == f"{fact.event_id}@notifier.payment-backbone"
        row = notification(stack.database_url, fact.event_id)
        assert row is not None
        assert (row["status"], row["attempts"]) == ("sent", 1)
    assert isinstance(lanes.sender, SmtpSender)
    assert 1 < lanes.sender.connections <= 4
    # One reservation's e-mails reach the server in the batch's order.
    received = [m.to[0].address for m in reversed(stack.sink.store.newest_first())]
    assert [to for to in received if "ours" in to] == [f.user_email for f in ours]


async def test_lanes_stop_at_an_outage_and_resend_nothing_accepted(
    stack: Stack, lanes: Notifier, user: Callable[[str], str]
) -> None:
    stack.sink.faults.set(Fault("reject_recipient", code=451, recipient=user("deferred")))
    same = "res-" + stack.unique + "-deferred"
    deferred = confirmed(stack.unique, user("deferred"), reservation_id=same)
    after = confirmed(stack.unique, user("after"), reservation_id=same)
    others = [confirmed(stack.unique, user(f"o{i}")) for i in range(8)]
    records = _records(stack, *others[:2], deferred, *others[2:5], after, *others[5:])

    with pytest.raises(TransientSendError, match="451"):
        await lanes.handler.handle_batch(records)
    # Whatever the server accepted is marked sent; the deferred reservation's next e-mail
    # waits behind it.
    assert await mails_to(stack.api, after.user_email) == []
    for fact in [*others, deferred, after]:
        row = notification(stack.database_url, fact.event_id)
        assert row is not None
        delivered = len(await mails_to(stack.api, fact.user_email))
        assert row["status"] == ("sent" if delivered else "sending")

    stack.sink.faults.set(None)
    await lanes.handler.handle_batch(records)
    for fact in [*others, deferred, after]:
        assert len(await mails_to(stack.api, fact.user_email)) == 1
        row = notification(stack.database_url, fact.event_id)
        assert row is not None
        assert row["status"] == "sent"


class _Watching(SmtpSender):
    """The real sender, noting before each send how many e-mails it had already sent that are
    not marked sent yet: what a crash at that moment would send again."""

    def __init__(self, settings: Settings, database_url: str) -> None:
        super().__init__(settings)
        self._database_url = database_url
        self.accepted: list[str] = []
        self.unmarked_before_send: list[int] = []
        self.under_way = 0
        # Before each send: it, the sends under way and those accepted and not marked sent.
        self.at_risk: list[int] = []

    async def send(self, rendered: RenderedEmail) -> None:
        rows = [notification(self._database_url, event_id) for event_id in self.accepted]
        self.unmarked_before_send.append(sum(1 for r in rows if r and r["status"] != "sent"))
        self.at_risk.append(1 + self.under_way + self.unmarked_before_send[-1])
        self.under_way += 1
        try:
            await super().send(rendered)
        finally:
            self.under_way -= 1
        self.accepted.append(str(rendered.email.event_id))


@pytest.mark.parametrize("connections", [1, 4])
@pytest.mark.parametrize("settle_every", [1, 3])
async def test_a_crash_could_resend_at_most_settle_every_emails(
    stack: Stack, user: Callable[[str], str], settle_every: int, connections: int
) -> None:
    senders: list[_Watching] = []

    def watching(settings: Settings) -> SmtpSender:
        senders.append(_Watching(settings, stack.database_url))
        return senders[-1]

    facts = [confirmed(stack.unique, user(f"w{i}")) for i in range(7)]
    async with _built(
        stack, watching, settle_every=settle_every, smtp_connections=connections
    ) as built:
        await built.handler.handle_batch(_records(stack, *facts))
    [sender] = senders
    if connections == 1:
        # Before the k-th send, the k sent before it are marked in groups of `settle_every`.
        assert sender.unmarked_before_send == [k % settle_every for k in range(len(facts))]
    else:
        # Over several conversations, no send starts while `settle_every` are under way or
        # accepted and unmarked: with it, at most `settle_every` to re-send after a crash.
        assert max(sender.at_risk) <= settle_every
        assert max(sender.at_risk) == settle_every  # and the conversations did overlap
    for fact in facts:
        row = notification(stack.database_url, fact.event_id)
        assert row is not None
        assert row["status"] == "sent"
        assert len(await mails_to(stack.api, fact.user_email)) == 1
