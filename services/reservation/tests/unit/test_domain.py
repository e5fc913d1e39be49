"""The pure rules: slots, holds, attempt ordering and the decision table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reservation.domain.model import BookingError, Status, StudioService, hold_expiry, plan_slot
from reservation.domain.payments import Action, Attempt, Stage, advances, amount_problem, decide

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
MIXING = StudioService("mixing", "Mixing", 120, 15000, "eur", "control-room")


def test_plan_slot() -> None:
    slot = plan_slot(MIXING, NOW + timedelta(days=1), NOW)
    assert slot.ends_at - slot.starts_at == timedelta(minutes=120)
    assert slot.resource == "control-room"


@pytest.mark.parametrize("starts_at", [NOW, NOW - timedelta(minutes=1), datetime(2031, 1, 1)])
def test_plan_slot_refuses(starts_at: datetime) -> None:
    with pytest.raises(BookingError) as caught:
        plan_slot(MIXING, starts_at, NOW)
    assert caught.value.field == "starts_at"


def test_hold_never_outlasts_the_slot_start() -> None:
    assert hold_expiry(NOW, 30, NOW + timedelta(days=1)) == NOW + timedelta(minutes=30)
    assert hold_expiry(NOW, 30, NOW + timedelta(minutes=10)) == NOW + timedelta(minutes=10)


def test_stages_only_advance() -> None:
    assert advances(None, Stage.OPEN)
    assert advances(Stage.OPEN, Stage.AWAITING)
    assert advances(Stage.AWAITING, Stage.FAILED)
    assert not advances(Stage.PAID, Stage.EXPIRED)
    assert not advances(Stage.AWAITING, Stage.OPEN)
    assert not advances(Stage.OPEN, Stage.OPEN)


def _attempt(session: str, stage: Stage, minutes: int = 0) -> Attempt:
    return Attempt(session, NOW + timedelta(minutes=minutes), stage)


def _decide(status: Status, signal: Attempt, **kw: object) -> Action:
    options: dict[str, object] = {
        "paid_session_id": None,
        "known": None,
        "newest_other": None,
        "hold_valid": True,
        "amount_ok": True,
        **kw,
    }
    return decide(
        status,
        options.pop("paid_session_id"),  # type: ignore[arg-type]
        signal,
        options.pop("known"),  # type: ignore[arg-type]
        options.pop("newest_other"),  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )


def test_decision_table() -> None:
    s1_paid = _attempt("s1", Stage.PAID)
    assert _decide(Status.PENDING, _attempt("s1", Stage.OPEN)) is Action.PROCESS
    assert _decide(Status.PROCESSING, s1_paid) is Action.CONFIRM
    assert _decide(Status.PROCESSING, s1_paid, amount_ok=False) is Action.FLAG
    assert _decide(Status.EXPIRED, s1_paid) is Action.LATE_PAYMENT
    assert _decide(Status.SUCCEEDED, s1_paid, paid_session_id="s0") is Action.REFUND_EXTRA
    assert _decide(Status.SUCCEEDED, _attempt("s1", Stage.EXPIRED)) is Action.NOTHING
    assert _decide(Status.PROCESSING, _attempt("s1", Stage.FAILED)) is Action.FAIL
    assert _decide(Status.PROCESSING, _attempt("s1", Stage.EXPIRED)) is Action.RELEASE
    expired = _decide(Status.PROCESSING, _attempt("s1", Stage.EXPIRED), hold_valid=False)
    assert expired is Action.EXPIRE
    # An older session's expiry never overrides a newer session.
    newer = _attempt("s2", Stage.OPEN, minutes=5)
    assert _decide(Status.PROCESSING, _attempt("s1", Stage.EXPIRED), newest_other=newer) is (
        Action.NOTHING
    )
    # A duplicate, or a stage the session already passed, changes nothing.
    assert _decide(
        Status.FAILED, _attempt("s1", Stage.AWAITING), known=_attempt("s1", Stage.FAILED)
    ) is (Action.NOTHING)


def test_amount_problem() -> None:
    ok = {"expected_total": 15000, "expected_currency": "eur"}
    assert amount_problem(**ok, paid_total=15000, paid_currency="EUR") is None
    assert amount_problem(**ok, paid_total=17999, paid_currency="eur", cart_total=2999) is None
    assert amount_problem(**ok, paid_total=100, paid_currency="eur") == "amount_mismatch"
    assert amount_problem(**ok, paid_total=15000, paid_currency="usd") == "currency_mismatch"
    claimed = amount_problem(**ok, paid_total=15000, paid_currency="eur", services_total_claimed=1)
    assert claimed == "amount_mismatch"
