"""PaymentService's decisions, every payment rule, on in-memory repositories (no PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from contracts.reservation import (
    OrderConfirmedV1,
    OrderRefundedV1,
    PaymentDisputeClosedV1,
    PaymentDisputedV1,
    ReservationConfirmedV1,
    ReservationExpiredV1,
    ReservationFlaggedForReviewV1,
    ReservationPaymentFailedV1,
    ReservationRefundedV1,
)
from reservation.domain.model import Status
from reservation.domain.orders import OrderDraft, OrderLine, OrderStatus
from reservation.domain.payments import Stage
from reservation.domain.refunds import RefundStatus
from reservation.domain.reservation import Reservation
from reservation.service_layer.disputes import DisputeSignal, PaymentDeclined
from reservation.service_layer.payments import PaymentService, SessionSignal, Signal
from reservation.service_layer.refunds import RefundSignal, StripeRefund

from .fakes import FakeDatabase, FakeUnitOfWork, RecordingObserver

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
PRICE = 15000


def booking(
    rid: str = "r1",
    *,
    status: Status = Status.PENDING,
    hold: timedelta = timedelta(minutes=10),
    starts: timedelta = timedelta(days=1),
    resource: str = "control-room",
) -> Reservation:
    return Reservation(
        id=rid,
        reference=f"RSV-{rid.upper()}",
        user_id="user-1",
        user_email="a@example.com",
        service_id="mixing",
        service_name="Mixing",
        resource=resource,
        starts_at=NOW + starts,
        ends_at=NOW + starts + timedelta(hours=2),
        amount=PRICE,
        currency="eur",
        status=status,
        hold_expires_at=NOW + hold,
        created_at=NOW,
        updated_at=NOW,
    )


class World:
    """A database, the service on it, and helpers to send it signals."""

    def __init__(self, *reservations: Reservation) -> None:
        self.db = FakeDatabase()
        self.db.add(*reservations)
        self.observer = RecordingObserver()
        self.uows: list[FakeUnitOfWork] = []
        self.now = NOW
        self.service = PaymentService(uow=self._uow, consumer="test", clock=lambda: self.now)
        self._n = 0

    def _uow(self, correlation_id: str | None = None) -> FakeUnitOfWork:
        uow = FakeUnitOfWork(self.db, self.observer)
        self.uows.append(uow)
        return uow

    def event_id(self) -> str:
        self._n += 1
        return f"evt_{self._n}"

    def session(
        self,
        session_id: str,
        stage: Stage,
        rids: Sequence[str] = ("r1",),
        *,
        created: timedelta = timedelta(0),
        amount: int | None = None,
        currency: str = "eur",
        pi: str | None = None,
        event_id: str | None = None,
        cart_total: int = 0,
        order: OrderDraft | None = None,
    ) -> SessionSignal:
        paid = stage is Stage.PAID
        total = amount if amount is not None else PRICE * len(rids) + cart_total
        return SessionSignal(
            event_id=event_id or self.event_id(),
            session_id=session_id,
            session_created=NOW + created,
            stage=stage,
            reservation_ids=list(rids),
            payment_intent_id=pi or (f"pi_{session_id}" if paid else None),
            amount_total=total,
            currency=currency,
            cart_total=cart_total,
            order=order,
        )

    def checkout_created(
        self, session_id: str, rids: Sequence[str] = ("r1",), *, amount: int | None = None
    ) -> None:
        """Checkout's record of the session (what provenance checks a payment against)."""
        self.db.checkout[session_id] = (amount or PRICE * len(rids), "eur", list(rids))

    async def apply(self, *signals: Signal) -> None:
        await self.service.apply(list(signals))

    def status(self, rid: str = "r1") -> Status:
        return self.db.reservations[rid].status

    def facts(self, kind: type) -> list:
        return [f for f in self.db.facts if isinstance(f, kind)]


# --- every Action of decide ----------------------------------------------------------------


async def test_open_session_processes() -> None:
    w = World(booking())
    await w.apply(w.session("cs_1", Stage.OPEN))
    r = w.db.reservations["r1"]
    assert (r.status, r.current_session_id) == (Status.PROCESSING, "cs_1")
    assert w.db.facts == []
    assert w.uows[-1].committed


async def test_paid_confirms_with_the_payment() -> None:
    w = World(booking())
    w.checkout_created("cs_1")
    await w.apply(w.session("cs_1", Stage.PAID))
    r = w.db.reservations["r1"]
    assert r.status is Status.SUCCEEDED
    assert (r.paid_session_id, r.payment_intent_id, r.paid_amount, r.paid_currency) == (
        "cs_1",
        "pi_cs_1",
        PRICE,
        "eur",
    )
    [fact] = w.facts(ReservationConfirmedV1)
    assert (fact.reservation_id, fact.amount_paid, fact.session_id) == ("r1", PRICE, "cs_1")
    assert fact.reference == "RSV-R1"


async def test_failed_attempt_keeps_the_hold_and_says_so() -> None:
    w = World(booking())
    await w.apply(w.session("cs_1", Stage.OPEN), w.session("cs_1", Stage.FAILED))
    assert w.status() is Status.FAILED
    [fact] = w.facts(ReservationPaymentFailedV1)
    assert fact.session_id == "cs_1"
    assert fact.hold_expires_at == NOW + timedelta(minutes=10)


async def test_expired_session_within_the_hold_releases() -> None:
    w = World(booking())
    await w.apply(w.session("cs_1", Stage.OPEN), w.session("cs_1", Stage.EXPIRED))
    assert w.status() is Status.PENDING
    assert w.db.facts == []


async def test_expired_session_after_the_hold_expires_the_reservation() -> None:
    w = World(booking(hold=timedelta(minutes=-1)))
    await w.apply(w.session("cs_1", Stage.OPEN), w.session("cs_1", Stage.EXPIRED))
    assert w.status() is Status.EXPIRED
    [fact] = w.facts(ReservationExpiredV1)
    assert fact.session_id == "cs_1"


async def test_nothing_for_a_settled_reservation_paid_by_the_same_session() -> None:
    w = World(booking())
    w.checkout_created("cs_1")
    await w.apply(w.session("cs_1", Stage.PAID))
    await w.apply(w.session("cs_1", Stage.EXPIRED))
    assert w.status() is Status.SUCCEEDED
    assert len(w.db.facts) == 1


# --- order independence ---------------------------------------------------------------------


async def test_a_late_event_of_an_older_session_never_overrides_the_newest() -> None:
    w = World(booking())
    old = w.session("cs_old", Stage.OPEN, created=timedelta(0))
    new = w.session("cs_new", Stage.OPEN, created=timedelta(minutes=1))
    await w.apply(old, new, w.session("cs_old", Stage.FAILED, created=timedelta(0)))
    r = w.db.reservations["r1"]
    assert (r.status, r.current_session_id) == (Status.PROCESSING, "cs_new")
    assert w.facts(ReservationPaymentFailedV1) == []


async def test_a_stage_only_advances() -> None:
    w = World(booking())
    await w.apply(w.session("cs_1", Stage.OPEN), w.session("cs_1", Stage.FAILED))
    await w.apply(w.session("cs_1", Stage.OPEN))  # late: the page opened before it failed
    assert w.status() is Status.FAILED
    assert w.db.reservations["r1"].attempts["cs_1"].stage is Stage.FAILED


async def test_a_new_session_after_a_failed_one_pays() -> None:
    w = World(booking())
    w.checkout_created("cs_2")
    await w.apply(
        w.session("cs_1", Stage.OPEN),
        w.session("cs_1", Stage.FAILED),
        w.session("cs_2", Stage.PAID, created=timedelta(minutes=1)),
    )
    assert w.status() is Status.SUCCEEDED


async def test_expired_after_succeeded_changes_nothing() -> None:
    w = World(booking())
    w.checkout_created("cs_1")
    await w.apply(w.session("cs_1", Stage.PAID), w.session("cs_1", Stage.EXPIRED))
    assert w.status() is Status.SUCCEEDED


# --- duplicates ------------------------------------------------------------------------------


async def test_duplicates_are_skipped_by_the_inbox() -> None:
    w = World(booking())
    w.checkout_created("cs_1")
    paid = w.session("cs_1", Stage.PAID, event_id="evt_same")
    await w.apply(paid, paid)
    await w.apply(paid)
    assert len(w.facts(ReservationConfirmedV1)) == 1
    assert ("test", "evt_same") in w.db.inbox


# --- amounts and provenance -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "reason"),
    [(PRICE - 1, "eur", "amount_mismatch"), (PRICE, "usd", "currency_mismatch")],
)
async def test_a_payment_not_what_we_priced_is_flagged(
    amount: int, currency: str, reason: str
) -> None:
    w = World(booking())
    w.db.checkout["cs_1"] = (amount, currency, ["r1"])
    await w.apply(w.session("cs_1", Stage.PAID, amount=amount, currency=currency))
    r = w.db.reservations["r1"]
    assert (r.status, r.review_reason) == (Status.NEEDS_REVIEW, reason)
    [fact] = w.facts(ReservationFlaggedForReviewV1)
    assert (fact.reason, fact.expected_amount, fact.paid_amount) == (reason, PRICE, amount)
    assert w.facts(ReservationConfirmedV1) == []


async def test_a_payment_not_what_checkout_created_is_flagged() -> None:
    w = World(booking())
    w.checkout_created("cs_1", amount=PRICE + 100)
    await w.apply(w.session("cs_1", Stage.PAID))
    r = w.db.reservations["r1"]
    assert (r.status, r.review_reason) == (Status.NEEDS_REVIEW, "amount_mismatch")


async def test_a_payment_without_checkouts_record_waits_processing() -> None:
    w = World(booking())
    await w.apply(w.session("cs_1", Stage.PAID))
    assert w.status() is Status.PROCESSING  # parked: applied as awaiting
    assert w.db.parked
    assert w.db.facts == []
    await w.apply(w.session("cs_1", Stage.OPEN))  # checkout's fact releases it, checked
    assert w.status() is Status.SUCCEEDED
    assert not w.db.parked


async def test_an_unknown_session_is_flagged_never_confirmed() -> None:
    w = World(booking())
    await w.apply(w.session("cs_1", Stage.PAID, event_id="evt_paid"))
    from reservation.service_layer.provenance import flag_overdue

    async def apply(signals: list[SessionSignal]) -> None:
        await w.service.apply(signals)

    flagged = await flag_overdue(
        lambda: FakeUnitOfWork(w.db), apply, NOW + timedelta(hours=1), grace_s=60
    )
    assert flagged == 1
    r = w.db.reservations["r1"]
    assert (r.status, r.review_reason) == (Status.NEEDS_REVIEW, "unknown_session")


# --- late payments and duplicate payments ---------------------------------------------------


async def test_a_late_payment_is_confirmed_when_the_slot_is_still_free() -> None:
    w = World(booking(status=Status.EXPIRED))
    w.checkout_created("cs_1")
    await w.apply(w.session("cs_1", Stage.PAID))
    assert w.status() is Status.SUCCEEDED
    assert w.db.refunds == {}


async def test_a_late_payment_is_refunded_when_the_slot_is_taken() -> None:
    w = World(booking(status=Status.EXPIRED), booking("r2", status=Status.SUCCEEDED))
    w.checkout_created("cs_1")
    await w.apply(w.session("cs_1", Stage.PAID, currency="EUR"))
    assert w.status() is Status.EXPIRED  # until Stripe has the refund
    [refund] = w.db.refunds.values()
    assert (refund.amount, refund.currency, refund.reason, refund.origin) == (
        PRICE,
        "eur",
        "late_payment_slot_taken",
        "ours",
    )
    assert refund.key == "reservation-refund:r1:cs_1"
    assert refund.status == RefundStatus.REQUESTED.value
    assert w.db.facts == []


async def test_a_duplicate_payment_of_a_settled_reservation_is_refunded() -> None:
    w = World(booking())
    w.checkout_created("cs_1")
    w.checkout_created("cs_2")
    await w.apply(w.session("cs_1", Stage.PAID))
    await w.apply(w.session("cs_2", Stage.PAID, created=timedelta(minutes=1)))
    r = w.db.reservations["r1"]
    assert (r.status, r.paid_session_id) == (Status.SUCCEEDED, "cs_1")
    [refund] = w.db.refunds.values()
    assert (refund.reason, refund.amount, refund.payment_intent_id) == (
        "duplicate_payment",
        PRICE,
        "pi_cs_2",
    )


async def test_our_refund_settled_refunds_the_late_payment() -> None:
    w = World(booking(status=Status.EXPIRED), booking("r2", status=Status.SUCCEEDED))
    w.checkout_created("cs_1")
    await w.apply(w.session("cs_1", Stage.PAID))
    [refund] = w.db.refunds.values()
    ours = StripeRefund("re_1", "pi_cs_1", PRICE, "eur", RefundStatus.SUCCEEDED, refund.key)
    await w.apply(RefundSignal(w.event_id(), (ours,)))
    r = w.db.reservations["r1"]
    assert (r.status, r.refund_id, r.refunded_amount) == (Status.REFUNDED, "re_1", PRICE)
    [fact] = w.facts(ReservationRefundedV1)
    assert (fact.reason, fact.amount_refunded, fact.partial) == (
        "late_payment_slot_taken",
        PRICE,
        False,
    )


# --- refunds made in Stripe -----------------------------------------------------------------


def _stripe_refund(w: World, amount: int, rid: str = "re_1") -> RefundSignal:
    refund = StripeRefund(rid, "pi_cs_1", amount, "eur", RefundStatus.SUCCEEDED)
    return RefundSignal(w.event_id(), (refund,))


async def test_a_full_refund_in_stripe_refunds_the_reservation() -> None:
    w = World(booking())
    w.checkout_created("cs_1")
    await w.apply(w.session("cs_1", Stage.PAID), _stripe_refund(w, PRICE))
    r = w.db.reservations["r1"]
    assert (r.status, r.refunded_amount) == (Status.REFUNDED, PRICE)
    [fact] = w.facts(ReservationRefundedV1)
    assert (fact.partial, fact.refunded_total, fact.reason) == (False, PRICE, "charge_refunded")
    assert ("refund", "observed") in w.observer.calls


async def test_a_refund_recorded_before_its_payment_applies_after_it() -> None:
    w = World(booking())
    w.checkout_created("cs_1")
    await w.apply(_stripe_refund(w, PRICE))
    assert w.status() is Status.PENDING
    assert w.db.facts == []
    await w.apply(w.session("cs_1", Stage.PAID))
    assert w.status() is Status.REFUNDED
    assert [type(f) for f in w.db.facts] == [ReservationConfirmedV1, ReservationRefundedV1]


async def test_a_partial_refund_leaves_the_booking_standing() -> None:
    w = World(booking())
    w.checkout_created("cs_1")
    await w.apply(w.session("cs_1", Stage.PAID), _stripe_refund(w, 5000))
    r = w.db.reservations["r1"]
    assert (r.status, r.refunded_amount) == (Status.SUCCEEDED, 5000)
    [fact] = w.facts(ReservationRefundedV1)
    assert (fact.partial, fact.amount_refunded, fact.refunded_total) == (True, 5000, 5000)
    await w.apply(_stripe_refund(w, PRICE - 5000, "re_2"))
    assert w.status() is Status.REFUNDED
    assert [f.amount_refunded for f in w.facts(ReservationRefundedV1)] == [5000, PRICE - 5000]


# --- beats orders ---------------------------------------------------------------------------

LINES = (OrderLine("beat-1", "Night Drive", 2000), OrderLine("beat-2", "Low Tide", 3000))


def _draft(lines: tuple[OrderLine, ...] | None = LINES) -> OrderDraft:
    return OrderDraft("cs_b", "user-1", "a@example.com", ("beat-1", "beat-2"), lines, 5000, "eur")


async def test_a_beats_order_is_confirmed_once_sale_and_payment_are_known() -> None:
    w = World()
    w.db.checkout["cs_b"] = (5000, "eur", [])
    paid = w.session("cs_b", Stage.PAID, (), amount=5000, cart_total=5000, order=_draft(None))
    await w.apply(paid)
    assert w.db.orders["cs_b"].status is OrderStatus.OPEN  # what was sold is not known yet
    await w.apply(w.session("cs_b", Stage.OPEN, (), amount=5000, order=_draft()))
    assert w.db.orders["cs_b"].status is OrderStatus.CONFIRMED
    [fact] = w.facts(OrderConfirmedV1)
    assert (fact.order_id, fact.total, [i.item_id for i in fact.items]) == (
        "cs_b",
        5000,
        ["beat-1", "beat-2"],
    )


async def test_a_beats_order_paid_wrong_is_flagged_without_a_fact() -> None:
    w = World()
    w.db.checkout["cs_b"] = (4000, "eur", [])
    await w.apply(w.session("cs_b", Stage.PAID, (), amount=4000, cart_total=4000, order=_draft()))
    order = w.db.orders["cs_b"]
    assert (order.status, order.review_reason) == (OrderStatus.NEEDS_REVIEW, "amount_mismatch")
    assert w.db.facts == []
    assert ("order_flagged", "amount_mismatch") in w.observer.calls


async def test_a_refunded_beats_order() -> None:
    w = World()
    w.db.checkout["cs_b"] = (5000, "eur", [])
    paid = w.session("cs_b", Stage.PAID, (), amount=5000, cart_total=5000, order=_draft())
    refund = StripeRefund("re_b", "pi_cs_b", 5000, "eur", RefundStatus.SUCCEEDED)
    await w.apply(paid, RefundSignal(w.event_id(), (refund,)))
    assert w.db.orders["cs_b"].status is OrderStatus.REFUNDED
    [fact] = w.facts(OrderRefundedV1)
    assert (fact.amount_refunded, fact.partial) == (5000, False)


# --- disputes and declines ------------------------------------------------------------------


def _dispute(w: World, status: str) -> DisputeSignal:
    return DisputeSignal(
        w.event_id(), "dp_1", "ch_1", "pi_cs_1", PRICE, "eur", "fraudulent", status
    )


async def test_a_dispute_opened_then_won() -> None:
    w = World(booking())
    w.checkout_created("cs_1")
    await w.apply(w.session("cs_1", Stage.PAID), _dispute(w, "needs_response"))
    assert w.status() is Status.DISPUTED
    [opened] = w.facts(PaymentDisputedV1)
    assert opened.reservation_ids == ["r1"]
    await w.apply(_dispute(w, "won"))
    assert w.status() is Status.SUCCEEDED
    [closed] = w.facts(PaymentDisputeClosedV1)
    assert closed.outcome == "won"
    await w.apply(_dispute(w, "needs_response"))  # a late `created` changes nothing
    assert w.status() is Status.SUCCEEDED


async def test_a_dispute_lost_frees_the_slot() -> None:
    w = World(booking())
    w.checkout_created("cs_1")
    await w.apply(w.session("cs_1", Stage.PAID), _dispute(w, "needs_response"))
    await w.apply(_dispute(w, "lost"))
    assert w.status() is Status.DISPUTE_LOST
    assert [f.outcome for f in w.facts(PaymentDisputeClosedV1)] == ["lost"]


async def test_a_decline_changes_nothing_and_is_counted_once() -> None:
    w = World(booking())
    declined = PaymentDeclined("evt_decl", "pi_x", "insufficient_funds")
    await w.apply(declined, declined)
    assert w.status() is Status.PENDING
    assert w.observer.calls.count(("declined", "insufficient_funds")) == 1


# --- all or nothing -------------------------------------------------------------------------


async def test_a_batch_with_a_failing_signal_commits_nothing() -> None:
    w = World(booking(), booking("r2", status=Status.SUCCEEDED))
    w.checkout_created("cs_1")
    w.checkout_created("cs_2", ["r2"])
    bad = SessionSignal(  # a second payment without a payment intent cannot be refunded
        event_id="evt_bad",
        session_id="cs_2",
        session_created=NOW,
        stage=Stage.PAID,
        reservation_ids=["r2"],
        amount_total=PRICE,
        currency="eur",
    )
    with pytest.raises(RuntimeError):
        await w.apply(w.session("cs_1", Stage.PAID), bad)
    assert w.status() is Status.PENDING
    assert w.db.facts == []
    assert w.db.inbox == set()
    assert w.db.commits == 0
    assert not w.uows[-1].committed
