"""NotifyHandler's decisions, with in-memory fakes of its ports: no PostgreSQL, broker or SMTP.

What the PostgreSQL, broker and mail-sink tests cover (tests/integration) is the same rules on
the real parts; these say what the handler decides, in milliseconds.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from backbone.kafka import Message, PermanentError
from contracts.reservation import ReservationConfirmedV1
from notifier.adapters.records import FactRecords
from notifier.domain.errors import (
    PermanentRecipientError,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from notifier.domain.model import RenderedEmail, Status, UnknownFact
from notifier.service_layer.handlers import Links, NotifyHandler

from .fakes import FakeObserver, FakeRenderer, FakeSender, FakeSettlements, FakeUnitOfWork

STARTS = datetime(2030, 5, 17, 14, 0, tzinfo=UTC)


def confirmed(email: str, reservation_id: str | None = None) -> ReservationConfirmedV1:
    return ReservationConfirmedV1(
        event_id=uuid4(),
        occurred_at=STARTS - timedelta(days=1),
        correlation_id="req_test",
        user_id="user_test",
        user_email=email,
        reservation_id=reservation_id or f"res-{uuid4().hex[:8]}",
        service_name="Mixing",
        starts_at=STARTS,
        ends_at=STARTS + timedelta(hours=2),
        amount_paid=15000,
        currency="eur",
        reference="RSV-TEST",
        session_id="cs_test",
    )


class Notifier:
    """The handler and its fakes."""

    def __init__(self, *, settle_every: int = 10, lanes: int = 1, turns: int = 0) -> None:
        self.uow = FakeUnitOfWork()
        self.sender = FakeSender(turns=turns)
        self.observer = FakeObserver()
        self.handler = NotifyHandler(
            lambda: self.uow,
            lambda: FakeSettlements(self.uow),
            FakeRenderer(),
            self.sender,
            links=Links(operator_email="ops@studio.test", checkout_url="http://shop.test/"),
            observer=self.observer,
            settle_every=settle_every,
            lanes=lanes,
        )

    def row(self, fact: ReservationConfirmedV1) -> tuple[Status, int, str | None]:
        row = self.uow.rows[str(fact.event_id)]
        return row.status, row.attempts, row.last_error

    def unmarked(self) -> int:
        """Accepted by the server and not marked sent: what a crash now would send again."""
        return sum(
            1
            for r in self.sender.sent
            if self.uow.rows[str(r.email.event_id)].status is not Status.SENT
        )


@pytest.fixture
def notifier() -> Notifier:
    return Notifier()


async def test_one_email_per_fact_claimed_then_marked_sent(notifier: Notifier) -> None:
    a, b = confirmed("a@example.test"), confirmed("b@example.test")

    await notifier.handler.handle_batch([a, b])

    assert [r.email.recipient for r in notifier.sender.sent] == [a.user_email, b.user_email]
    assert [r.message_id for r in notifier.sender.sent] == [
        f"<{a.event_id}@notifier.test>",
        f"<{b.event_id}@notifier.test>",
    ]
    assert notifier.row(a) == notifier.row(b) == (Status.SENT, 1, None)
    assert notifier.uow.committed
    assert notifier.uow.commits == 2  # the claim, then one settle for both
    assert notifier.observer.count("sent") == 2


async def test_claims_are_committed_before_anything_is_sent(notifier: Notifier) -> None:
    a = confirmed("a@example.test")
    seen: list[tuple[Status, int]] = []
    notifier.sender.before_send = lambda r: seen.append(
        (notifier.uow.notifications.status(r.email.event_id), notifier.uow.commits)
    )

    await notifier.handler.handle_batch([a])

    assert seen == [(Status.SENDING, 1)]


async def test_a_fact_repeated_within_a_batch_is_sent_once(notifier: Notifier) -> None:
    a, b = confirmed("a@example.test"), confirmed("b@example.test")

    await notifier.handler.handle_batch([a, b, a, a])

    assert len(notifier.sender.to(a.user_email)) == 1
    assert notifier.row(a) == (Status.SENT, 1, None)
    assert notifier.observer.count("sent") == 2
    assert notifier.observer.count("duplicate") == 2


async def test_a_fact_delivered_again_in_a_later_batch_is_not_sent_again(
    notifier: Notifier,
) -> None:
    a, b = confirmed("a@example.test"), confirmed("b@example.test")
    await notifier.handler.handle_batch([a])

    await notifier.handler.handle_batch([a, b])
    await notifier.handler.handle_batch([a])

    assert len(notifier.sender.to(a.user_email)) == 1
    assert len(notifier.sender.to(b.user_email)) == 1
    assert notifier.row(a) == (Status.SENT, 1, None)  # never claimed for sending again
    assert notifier.observer.count("duplicate") == 2


async def test_unknown_fact_types_are_acknowledged_and_counted_without_an_email(
    notifier: Notifier,
) -> None:
    await notifier.handler.handle_batch([UnknownFact("reservation.moved.v9")])

    assert notifier.sender.sent == []
    assert notifier.uow.rows == {}
    assert notifier.uow.commits == 0  # nothing to claim: no transaction at all
    assert notifier.observer.ignored == {"reservation.moved.v9": 1}


@pytest.mark.parametrize(
    "refusal",
    [
        PermanentRecipientError("recipient refused: 550 no such user"),
        PermanentSendError("message refused: SMTPDataError: 554 policy"),
    ],
)
async def test_a_refusal_for_good_is_recorded_failed_and_never_retried(
    notifier: Notifier, refusal: PermanentSendError
) -> None:
    a, refused = confirmed("a@example.test"), confirmed("refused@example.test")
    notifier.sender.refuse[refused.user_email] = refusal

    await notifier.handler.handle_batch([refused, a])  # acknowledged: nothing raised

    assert notifier.row(refused) == (Status.FAILED, 1, str(refusal))
    assert notifier.row(a) == (Status.SENT, 1, None)
    assert notifier.observer.count("failed") == 1
    # Delivered again: not tried again.
    notifier.sender.refuse.clear()
    await notifier.handler.handle_batch([refused])
    assert notifier.sender.to(refused.user_email) == []
    assert notifier.row(refused)[0] is Status.FAILED
    assert notifier.observer.count("duplicate") == 1


async def test_an_unusable_address_fails_without_a_send(notifier: Notifier) -> None:
    unusable = confirmed("not an address")
    attempted: list[RenderedEmail] = []
    notifier.sender.before_send = attempted.append

    await notifier.handler.handle_batch([unusable])

    assert attempted == []
    status, _, reason = notifier.row(unusable)
    assert status is Status.FAILED
    assert reason is not None
    assert "unusable address" in reason


@pytest.mark.parametrize(
    "error",
    [
        TransientSendError("recipient deferred: 451 try later"),  # an outage: waited out
        SendError("SMTPAuthenticationError: 535 bad credentials"),  # our configuration
    ],
)
async def test_a_failed_send_settles_what_went_before_then_raises(
    notifier: Notifier, error: SendError
) -> None:
    a, b, c, d = (confirmed(f"{name}@example.test") for name in "abcd")
    deferred = confirmed("deferred@example.test")
    notifier.sender.refuse[deferred.user_email] = error

    with pytest.raises(type(error)) as raised:
        await notifier.handler.handle_batch([a, b, deferred, c, d])

    assert raised.value is error
    # What was accepted before is marked sent; the failing row keeps `sending` with the error;
    # the rows after it are claimed, not sent.
    assert notifier.row(a) == notifier.row(b) == (Status.SENT, 1, None)
    assert notifier.row(deferred) == (Status.SENDING, 1, str(error))
    assert notifier.row(c) == notifier.row(d) == (Status.SENDING, 1, None)
    assert [r.email.recipient for r in notifier.sender.sent] == [a.user_email, b.user_email]
    assert notifier.observer.count("retried") == 1
    assert notifier.observer.count("sent") == 2

    # The batch again once the server takes it: only what was not accepted goes out.
    notifier.sender.refuse.clear()
    await notifier.handler.handle_batch([a, b, deferred, c, d])
    assert [r.email.recipient for r in notifier.sender.sent] == [
        f.user_email for f in (a, b, deferred, c, d)
    ]
    assert notifier.row(a) == (Status.SENT, 1, None)
    assert notifier.row(deferred) == (Status.SENT, 2, None)
    assert notifier.row(c) == notifier.row(d) == (Status.SENT, 2, None)
    assert notifier.observer.count("duplicate") == 2


@pytest.mark.parametrize("settle_every", [1, 3, 10])
async def test_sends_are_marked_every_settle_every(settle_every: int) -> None:
    notifier = Notifier(settle_every=settle_every)
    facts = [confirmed(f"w{i}@example.test") for i in range(7)]
    unmarked_before_send: list[int] = []

    def watch(rendered: RenderedEmail) -> None:
        accepted = [notifier.uow.rows[str(r.email.event_id)] for r in notifier.sender.sent]
        unmarked_before_send.append(sum(1 for row in accepted if row.status is not Status.SENT))

    notifier.sender.before_send = watch

    await notifier.handler.handle_batch(facts)

    # Before the k-th send, the k sent before it are marked in groups of `settle_every`: a
    # crash re-sends at most `settle_every` accepted e-mails.
    assert unmarked_before_send == [k % settle_every for k in range(len(facts))]
    assert notifier.uow.commits == 1 + -(-len(facts) // settle_every)
    assert all(notifier.row(f)[0] is Status.SENT for f in facts)


async def test_a_settle_that_fails_raises_and_leaves_at_most_settle_every_to_resend() -> None:
    notifier = Notifier(settle_every=3)
    facts = [confirmed(f"w{i}@example.test") for i in range(7)]
    sends = 0

    def database_gone_after_the_claim(rendered: RenderedEmail) -> None:
        nonlocal sends
        sends += 1
        notifier.uow.fail_commits = ConnectionError("database gone")

    notifier.sender.before_send = database_gone_after_the_claim

    with pytest.raises(ConnectionError):
        await notifier.handler.handle_batch(facts)

    assert sends == 3  # the first settle failed: nothing more was sent
    assert [notifier.row(f)[0] for f in facts] == [Status.SENDING] * 7
    assert notifier.observer.count("sent") == 0  # counted once the batch is through


async def test_cancelled_mid_batch_marks_what_was_accepted() -> None:
    notifier = Notifier(settle_every=10)
    a, b, c = (confirmed(f"{name}@example.test") for name in "abc")
    notifier.sender.refuse[c.user_email] = asyncio.CancelledError()

    with pytest.raises(asyncio.CancelledError):
        await notifier.handler.handle_batch([a, b, c])

    assert notifier.row(a) == notifier.row(b) == (Status.SENT, 1, None)
    assert notifier.row(c) == (Status.SENDING, 1, None)


def _record(value: bytes | None, offset: int = 0) -> Message:
    return Message(topic="reservation.events", partition=0, offset=offset, key=b"k", value=value)


async def test_records_are_decoded_before_the_handler_sees_them(notifier: Notifier) -> None:
    a = confirmed("a@example.test")
    records = FactRecords(notifier.handler)

    await records.handle_batch(
        [_record(a.model_dump_json().encode()), _record(b'{"event_type": "x.moved.v9"}', 1)]
    )
    await records.handle_batch([_record(a.model_dump_json().encode(), 2)])

    assert len(notifier.sender.to(a.user_email)) == 1
    assert notifier.observer.ignored == {"x.moved.v9": 1}
    assert notifier.observer.count("duplicate") == 1


@pytest.mark.parametrize(
    "malformed", [None, b"not json", b'{"event_type": "reservation.confirmed.v1"}']
)
async def test_a_malformed_fact_is_permanent_and_stops_its_batch_before_any_claim(
    notifier: Notifier, malformed: bytes | None
) -> None:
    a = confirmed("a@example.test")
    records = FactRecords(notifier.handler)

    with pytest.raises(PermanentError):
        await records.handle_batch([_record(a.model_dump_json().encode()), _record(malformed, 1)])

    assert notifier.uow.rows == {}
    assert notifier.sender.sent == []


# Several SMTP conversations at once (lanes): the same decisions, sends overlapping.


async def test_lanes_send_over_several_conversations_at_once() -> None:
    notifier = Notifier(settle_every=10, lanes=4, turns=3)
    facts = [confirmed(f"w{i}@example.test") for i in range(20)]

    await notifier.handler.handle_batch(facts)

    assert notifier.sender.most_in_flight == 4
    assert sorted(r.email.recipient for r in notifier.sender.sent) == sorted(
        f.user_email for f in facts
    )
    assert all(notifier.row(f) == (Status.SENT, 1, None) for f in facts)
    assert notifier.observer.count("sent") == 20


async def test_lanes_keep_one_reservations_emails_in_order_one_at_a_time() -> None:
    notifier = Notifier(settle_every=10, lanes=4, turns=3)
    ours = [confirmed(f"ours{i}@example.test", reservation_id="res-ours") for i in range(4)]
    others = [confirmed(f"other{i}@example.test") for i in range(8)]
    batch = [ours[0], *others[:3], ours[1], ours[2], *others[3:], ours[3]]
    overlapping: list[str] = []

    def check(rendered: RenderedEmail) -> None:
        if rendered.email.recipient.startswith("ours") and any(
            r.email.recipient.startswith("ours") for r in notifier.sender.in_flight
        ):
            overlapping.append(rendered.email.recipient)

    notifier.sender.before_send = check

    await notifier.handler.handle_batch(batch)

    assert overlapping == []
    sent = [r.email.recipient for r in notifier.sender.sent]
    assert [to for to in sent if to.startswith("ours")] == [f.user_email for f in ours]
    assert notifier.sender.most_in_flight == 4
    assert sent != [f.user_email for f in batch]  # the others overlapped


@pytest.mark.parametrize("settle_turns", [0, 3])
@pytest.mark.parametrize("settle_every", [1, 3, 10, 25])
async def test_lanes_never_leave_more_than_settle_every_to_resend(
    settle_every: int, settle_turns: int
) -> None:
    notifier = Notifier(settle_every=settle_every, lanes=4, turns=2)
    notifier.uow.settle_turns = settle_turns  # settles that take time: the lanes send meanwhile
    facts = [confirmed(f"w{i}@example.test") for i in range(30)]
    at_risk: list[int] = []

    def watch(rendered: RenderedEmail) -> None:
        # A crash now could re-send this one, those under way and those accepted, not marked.
        at_risk.append(1 + len(notifier.sender.in_flight) + notifier.unmarked())

    notifier.sender.before_send = watch

    await notifier.handler.handle_batch(facts)

    assert max(at_risk) <= settle_every
    assert notifier.sender.most_in_flight == min(4, settle_every)
    assert all(notifier.row(f) == (Status.SENT, 1, None) for f in facts)


async def test_one_lane_marks_every_settle_every_sends_while_settles_take_time() -> None:
    notifier = Notifier(settle_every=3, lanes=1, turns=1)
    notifier.uow.settle_turns = 4
    facts = [confirmed(f"w{i}@example.test") for i in range(9)]
    marked_before: list[int] = []
    notifier.sender.before_send = lambda r: marked_before.append(
        sum(1 for row in notifier.uow.rows.values() if row.status is Status.SENT)
    )

    await notifier.handler.handle_batch(facts)

    assert notifier.uow.most_settling == 1
    assert marked_before == [0, 0, 0, 3, 3, 3, 6, 6, 6]
    assert all(notifier.row(f)[0] is Status.SENT for f in facts)


async def test_a_failed_settle_is_written_again_before_the_batch_raises() -> None:
    # A settle's connection is lost mid-batch: the lanes stop, and what that settle was to mark
    # is marked on the way out (the next settle takes a new connection), so the retry of the
    # batch sends nothing again.
    notifier = Notifier(settle_every=10, lanes=4, turns=2)
    notifier.uow.settle_turns = 3
    notifier.uow.fail_settles = 1
    facts = [confirmed(f"w{i}@example.test") for i in range(30)]

    with pytest.raises(ConnectionError):
        await notifier.handler.handle_batch(facts)

    accepted = {str(r.email.event_id) for r in notifier.sender.sent}
    assert 0 < len(accepted) < len(facts)
    for fact in facts:
        status = notifier.row(fact)[0]
        assert status is (Status.SENT if str(fact.event_id) in accepted else Status.SENDING)
    assert notifier.unmarked() == 0

    await notifier.handler.handle_batch(facts)
    assert sorted(r.email.recipient for r in notifier.sender.sent) == sorted(
        f.user_email for f in facts
    )
    assert all(notifier.row(f)[0] is Status.SENT for f in facts)


async def test_lanes_stop_at_an_outage_and_settle_what_was_accepted() -> None:
    notifier = Notifier(settle_every=10, lanes=4, turns=2)
    deferred = confirmed("deferred@example.test", reservation_id="res-deferred")
    after = confirmed("after@example.test", reservation_id="res-deferred")  # same reservation
    others = [confirmed(f"w{i}@example.test") for i in range(12)]
    batch = [*others[:2], deferred, *others[2:6], after, *others[6:]]
    notifier.sender.refuse[deferred.user_email] = TransientSendError("451 try later")

    with pytest.raises(TransientSendError):
        await notifier.handler.handle_batch(batch)

    accepted = {str(r.email.event_id) for r in notifier.sender.sent}
    # What overlapped with the failing send went out and is marked; nothing started after it,
    # and the deferred reservation's next e-mail waits behind it.
    assert 0 < len(accepted) < len(others)
    assert str(after.event_id) not in accepted
    for fact in batch:
        status, attempts, _ = notifier.row(fact)
        assert attempts == 1
        assert status is (Status.SENT if str(fact.event_id) in accepted else Status.SENDING)
    assert notifier.row(deferred)[2] == "451 try later"
    assert notifier.unmarked() == 0

    notifier.sender.refuse.clear()
    await notifier.handler.handle_batch(batch)
    sent = [r.email.recipient for r in notifier.sender.sent]
    assert sorted(sent) == sorted(f.user_email for f in batch)  # each once
    assert sent.index(deferred.user_email) < sent.index(after.user_email)
    assert all(notifier.row(f)[0] is Status.SENT for f in batch)


async def test_lanes_cancelled_mid_batch_mark_what_was_accepted() -> None:
    notifier = Notifier(settle_every=10, lanes=4, turns=2)
    facts = [confirmed(f"w{i}@example.test") for i in range(20)]
    task = asyncio.create_task(notifier.handler.handle_batch(facts))
    started: list[RenderedEmail] = []

    def cancel_at_the_sixth(rendered: RenderedEmail) -> None:
        started.append(rendered)
        if len(started) == 6:
            task.cancel()

    notifier.sender.before_send = cancel_at_the_sixth

    with pytest.raises(asyncio.CancelledError):
        await task

    # The sends under way were cancelled with the batch, and no lane took another.
    assert 0 < len(notifier.sender.sent) < len(started) < len(facts)
    assert notifier.sender.in_flight == []
    assert notifier.unmarked() == 0
    accepted = {str(r.email.event_id) for r in notifier.sender.sent}
    for fact in facts:
        status = notifier.row(fact)[0]
        assert status is (Status.SENT if str(fact.event_id) in accepted else Status.SENDING)


async def test_lanes_stop_when_a_settle_fails() -> None:
    notifier = Notifier(settle_every=3, lanes=4, turns=2)
    facts = [confirmed(f"w{i}@example.test") for i in range(12)]
    notifier.sender.before_send = lambda r: setattr(
        notifier.uow, "fail_commits", ConnectionError("database gone")
    )

    with pytest.raises(ConnectionError):
        await notifier.handler.handle_batch(facts)

    assert 0 < len(notifier.sender.sent) <= 3
    assert [notifier.row(f)[0] for f in facts] == [Status.SENDING] * 12
