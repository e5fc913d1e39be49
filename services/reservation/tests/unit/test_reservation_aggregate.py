"""The Reservation and Order aggregates alone: state changes and the events they record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reservation.domain.disputes import DisputeStage
from reservation.domain.events import (
    Confirmed,
    Expired,
    FlaggedForReview,
    OrderConfirmed,
    OrderFlagged,
    OrderRefunded,
    PaymentFailed,
    Refunded,
    RefundRequested,
)
from reservation.domain.model import Status
from reservation.domain.orders import (
    CartPayment,
    Order,
    OrderAction,
    OrderDraft,
    OrderLine,
    OrderStatus,
)
from reservation.domain.payments import Action, Attempt, Stage
from reservation.domain.reservation import LatePaymentNeedsSlot, Reservation, SessionPayment

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


def make(status: Status = Status.PENDING, hold: timedelta = timedelta(minutes=10)) -> Reservation:
    return Reservation(
        id="r1",
        reference="RSV-AAAAAA",
        user_id="u",
        user_email="u@example.com",
        service_id="mixing",
        service_name="Mixing",
        resource="room",
        starts_at=NOW + timedelta(days=1),
        ends_at=NOW + timedelta(days=1, hours=2),
        amount=10000,
        currency="eur",
        status=status,
        hold_expires_at=NOW + hold,
        created_at=NOW,
        updated_at=NOW,
    )


def pay(
    session: str, stage: Stage, created: timedelta = timedelta(0), **kw: object
) -> SessionPayment:
    return SessionPayment(Attempt(session, NOW + created, stage), **kw)  # type: ignore[arg-type]


def test_process_records_the_attempt_and_the_page_end() -> None:
    r = make()
    closes = NOW + timedelta(minutes=30)
    assert r.apply(pay("cs_1", Stage.OPEN, expires_at=closes), NOW) is Action.PROCESS
    assert (r.status, r.session_expires_at) == (Status.PROCESSING, closes)
    assert r.recorded_attempts == {"cs_1": Attempt("cs_1", NOW, Stage.OPEN)}
    assert r.events == []


def test_confirm_records_confirmed() -> None:
    r = make()
    action = r.apply(pay("cs_1", Stage.PAID, payment_intent_id="pi", amount_total=10000), NOW)
    assert action is Action.CONFIRM
    [event] = r.events
    assert isinstance(event, Confirmed)
    assert (event.amount_paid, event.currency, event.payment_intent_id) == (10000, "eur", "pi")


def test_flag_records_flagged_for_review() -> None:
    r = make()
    p = pay("cs_1", Stage.PAID, payment_intent_id="pi", amount_total=9000, currency="EUR")
    assert r.apply(p, NOW, problem="amount_mismatch") is Action.FLAG
    [event] = r.events
    assert isinstance(event, FlaggedForReview)
    assert (event.paid_amount, event.paid_currency, r.review_reason) == (
        9000,
        "eur",
        "amount_mismatch",
    )


def test_fail_release_expire() -> None:
    r = make()
    r.apply(pay("cs_1", Stage.OPEN), NOW)
    assert r.apply(pay("cs_1", Stage.FAILED, failure_reason="card"), NOW) is Action.FAIL
    assert isinstance(r.events[-1], PaymentFailed)
    r2 = make()
    assert r2.apply(pay("cs_1", Stage.EXPIRED), NOW) is Action.RELEASE
    assert (r2.status, r2.events) == (Status.PENDING, [])
    r3 = make(hold=timedelta(minutes=-1))
    assert r3.apply(pay("cs_1", Stage.EXPIRED), NOW) is Action.EXPIRE
    assert isinstance(r3.events[-1], Expired)
    assert r3.status is Status.EXPIRED


def test_a_known_attempt_keeps_its_first_creation_time() -> None:
    r = make()
    r.apply(pay("cs_1", Stage.OPEN), NOW)
    r.apply(pay("cs_1", Stage.FAILED, created=timedelta(minutes=5)), NOW)
    assert r.attempts["cs_1"] == Attempt("cs_1", NOW, Stage.FAILED)


def test_a_late_payment_needs_to_know_the_slot() -> None:
    r = make(Status.EXPIRED)
    p = pay("cs_1", Stage.PAID, payment_intent_id="pi", amount_total=10000)
    assert r.needs_slot_check(p)
    with pytest.raises(LatePaymentNeedsSlot):
        r.apply(p, NOW)


def test_a_late_payment_on_a_free_slot_confirms() -> None:
    r = make(Status.EXPIRED)
    p = pay("cs_1", Stage.PAID, payment_intent_id="pi", amount_total=10000)
    assert r.apply(p, NOW, slot_free=True) is Action.LATE_PAYMENT
    assert r.status is Status.SUCCEEDED
    assert isinstance(r.events[-1], Confirmed)


def test_a_late_payment_on_a_taken_slot_requests_its_refund() -> None:
    r = make(Status.CANCELLED)
    p = pay("cs_1", Stage.PAID, payment_intent_id="pi", amount_total=12000, cart_total=2000)
    assert r.apply(p, NOW, slot_free=False) is Action.LATE_PAYMENT
    [event] = r.events
    assert isinstance(event, RefundRequested)
    assert (event.amount, event.reason, event.key) == (
        10000,
        "late_payment_slot_taken",
        "reservation-refund:r1:cs_1",
    )
    assert r.status is Status.CANCELLED


def test_refund_extra_for_a_second_session() -> None:
    r = make()
    r.apply(pay("cs_1", Stage.PAID, payment_intent_id="pi1", amount_total=10000), NOW)
    p2 = pay("cs_2", Stage.PAID, timedelta(minutes=1), payment_intent_id="pi2")
    assert r.apply(p2, NOW) is Action.REFUND_EXTRA
    assert isinstance(r.events[-1], RefundRequested)
    assert r.events[-1].reason == "duplicate_payment"
    assert r.paid_session_id == "cs_1"


def test_a_refund_extra_without_a_payment_intent_is_an_error() -> None:
    r = make(Status.SUCCEEDED)
    r.paid_session_id = "cs_1"
    with pytest.raises(RuntimeError):
        r.apply(pay("cs_2", Stage.PAID), NOW)


def test_refunds_full_and_partial() -> None:
    r = make()
    r.apply(pay("cs_1", Stage.PAID, payment_intent_id="pi", amount_total=10000), NOW)
    r.refund_part(
        amount=4000,
        refund_id="re_1",
        currency="eur",
        reason="charge_refunded",
        payment_intent_id="pi",
        refunded_total=4000,
        now=NOW,
    )
    assert (r.status, r.refunded_amount) == (Status.SUCCEEDED, 4000)
    r.refund_in_full(
        refund_id="re_2", currency="eur", reason="charge_refunded", payment_intent_id="pi", now=NOW
    )
    last = r.events[-1]
    assert isinstance(last, Refunded)
    assert (last.amount, last.partial, last.refunded_total) == (6000, False, 10000)
    assert r.status is Status.REFUNDED


def test_our_duplicate_payment_refund_leaves_the_booking() -> None:
    r = make(Status.SUCCEEDED)
    r.refund_ours(
        refund_id="re",
        amount=10000,
        currency="eur",
        reason="duplicate_payment",
        session_id="cs_2",
        payment_intent_id="pi2",
        now=NOW,
    )
    assert (r.status, r.refunded_amount) == (Status.SUCCEEDED, None)
    assert isinstance(r.events[-1], Refunded)


def test_disputes_move_and_restore() -> None:
    r = make(Status.SUCCEEDED)
    assert r.dispute("dp", DisputeStage.OPEN, NOW) == "disputed"
    assert r.dispute("dp", DisputeStage.WON, NOW) == "succeeded"
    assert r.status is Status.SUCCEEDED
    assert r.status_before_dispute is None
    assert r.dispute("dp", DisputeStage.LOST, NOW) == "dispute_lost"
    assert make(Status.REFUNDED).dispute("dp", DisputeStage.OPEN, NOW) is None


LINES = (OrderLine("b1", "Beat", 3000),)


def test_order_confirms_once_both_halves_are_known() -> None:
    order = Order.open(OrderDraft("cs", "u", "e", ("b1",), None, 3000, "EUR"))
    payment = CartPayment("pi", 3000, "eur", NOW)
    assert order.record(OrderDraft("cs", "u", "e", ("b1",), None, 3000, "eur"), payment, NOW) is (
        OrderAction.WAIT
    )
    action = order.record(OrderDraft("cs", "u", "e", ("b1",), LINES, 3000, "eur"), None, NOW)
    assert action is OrderAction.CONFIRM
    assert isinstance(order.events[-1], OrderConfirmed)
    assert order.record(OrderDraft("cs", "u", "e", ("b1",), LINES, 3000, "eur"), None, NOW) is (
        OrderAction.WAIT
    )


def test_order_flagged_then_refunded() -> None:
    order = Order.open(OrderDraft("cs", "u", "e", ("b1",), LINES, 3000, "eur"))
    order.record(
        OrderDraft("cs", "u", "e", ("b1",), LINES, 3000, "eur"),
        CartPayment("pi", 2500, "eur", NOW),
        NOW,
    )
    assert order.status is OrderStatus.NEEDS_REVIEW
    assert isinstance(order.events[-1], OrderFlagged)
    order.refund(
        refund_id="re", amount=order.left, reason="charge_refunded", partial=False, now=NOW
    )
    assert order.status is OrderStatus.REFUNDED
    event = order.events[-1]
    assert isinstance(event, OrderRefunded)
    assert event.amount == 2500
