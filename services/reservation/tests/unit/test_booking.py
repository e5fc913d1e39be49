"""Booking's decisions on in-memory fakes (no PostgreSQL): when a slot can be held, for how long,
what may be cancelled or paid, the quotas, and the sweep. The PostgreSQL tests (test_database,
test_api*) cover the real exclusion constraint and the repository."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from reservation.adapters.tables import ReservationRow
from reservation.domain.model import LIVE_STATUSES, BookingError, Status, StudioService
from reservation.domain.payments import Attempt, Stage
from reservation.service_layer import booking, quotas, sweep
from reservation.service_layer.errors import (
    NotCancellable,
    NotPayable,
    ReservationNotFound,
    SlotTaken,
)
from reservation.service_layer.quotas import BookingLimits, QuotaExceeded

from .fakes_booking import FakeUnitOfWork, Store, as_uow

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
START = NOW + timedelta(days=2)
MIXING = StudioService("mixing", "Mixing", 120, 15000, "eur", "control-room")
RECORDING = StudioService("recording", "Recording", 60, 9000, "eur", "live-room")
USER, OTHER = "user_1", "user_2"
HOLD_MINUTES = 30
_refs = itertools.count()

NOT_LIVE = sorted(set(Status) - LIVE_STATUSES)


def _store() -> Store:
    return Store(services={s.id: s for s in (MIXING, RECORDING)})


def _row(
    *,
    status: Status = Status.PENDING,
    user_id: str = USER,
    starts_at: datetime = START,
    service: StudioService = MIXING,
    hold_expires_at: datetime | None = None,
    created_at: datetime = NOW - timedelta(days=1),
    **extra: Any,
) -> ReservationRow:
    return ReservationRow(
        id=str(uuid.uuid4()),
        reference=f"RSV-T{next(_refs):05d}",
        user_id=user_id,
        user_email=f"{user_id}@example.test",
        service_id=service.id,
        service_name=service.name,
        resource=service.resource,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=service.duration_minutes),
        amount=service.price,
        currency=service.currency,
        status=status,
        hold_expires_at=hold_expires_at or NOW + timedelta(minutes=HOLD_MINUTES),
        created_at=created_at,
        updated_at=created_at,
        **extra,
    )


async def _book(
    store: Store,
    *,
    starts_at: datetime = START,
    service_id: str = MIXING.id,
    user_id: str = USER,
    now: datetime = NOW,
    limits: BookingLimits | None = None,
) -> tuple[ReservationRow, FakeUnitOfWork]:
    uow = FakeUnitOfWork(store)
    row = await booking.book(
        as_uow(uow),
        user_id=user_id,
        user_email=f"{user_id}@example.test",
        service_id=service_id,
        starts_at=starts_at,
        now=now,
        hold_minutes=HOLD_MINUTES,
        limits=limits,
    )
    return row, uow


async def _refused(store: Store, error: type[Exception], **kwargs: Any) -> Exception:
    before = dict(store.reservations)
    uow = FakeUnitOfWork(store)
    with pytest.raises(error) as caught:
        await booking.book(
            as_uow(uow),
            user_id=kwargs.pop("user_id", USER),
            user_email="someone@example.test",
            service_id=kwargs.pop("service_id", MIXING.id),
            starts_at=kwargs.pop("starts_at", START),
            now=NOW,
            hold_minutes=HOLD_MINUTES,
            **kwargs,
        )
    assert uow.commits == 0, "nothing is committed on error"
    assert store.reservations == before
    assert store.outbox == []
    return caught.value


# -- booking -----------------------------------------------------------------------------------


async def test_a_booking_holds_the_slot_priced_from_the_catalog() -> None:
    store = _store()
    row, uow = await _book(store)
    assert uow.commits == 1
    assert store.reservations[row.id] is row
    assert (row.status, row.user_id, row.service_id) == (Status.PENDING, USER, MIXING.id)
    assert (row.amount, row.currency, row.resource) == (15000, "eur", "control-room")
    assert (row.starts_at, row.ends_at) == (START, START + timedelta(minutes=120))
    assert row.hold_expires_at == NOW + timedelta(minutes=HOLD_MINUTES)
    assert row.reference.startswith("RSV-")
    assert len(row.reference) == 10
    assert row.created_at == row.updated_at == NOW


async def test_the_hold_never_outlasts_the_slot_start() -> None:
    soon = NOW + timedelta(minutes=10)
    row, _ = await _book(_store(), starts_at=soon)
    assert row.hold_expires_at == soon


@pytest.mark.parametrize("starts_at", [NOW, NOW - timedelta(hours=1)])
async def test_a_booking_must_be_in_the_future(starts_at: datetime) -> None:
    error = await _refused(_store(), BookingError, starts_at=starts_at)
    assert isinstance(error, BookingError)
    assert error.field == "starts_at"


async def test_a_booking_needs_a_time_zone() -> None:
    naive = datetime(2030, 1, 3, 12)
    error = await _refused(_store(), BookingError, starts_at=naive)
    assert isinstance(error, BookingError)
    assert error.field == "starts_at"
    assert "time zone" in error.message


async def test_an_unknown_service_is_refused() -> None:
    error = await _refused(_store(), BookingError, service_id="karaoke")
    assert isinstance(error, BookingError)
    assert error.field == "service_id"


@pytest.mark.parametrize("status", sorted(LIVE_STATUSES))
async def test_a_live_reservation_overlapping_takes_the_slot(status: Status) -> None:
    store = _store()
    # Overlapping by half an hour, by another user, its hold still running.
    store.put(_row(status=status, user_id=OTHER, starts_at=START + timedelta(minutes=90)))
    error = await _refused(store, SlotTaken)
    assert isinstance(error, SlotTaken)
    assert "control-room" in error.slot


@pytest.mark.parametrize("status", NOT_LIVE)
async def test_a_reservation_that_no_longer_holds_leaves_the_slot_free(status: Status) -> None:
    store = _store()
    store.put(_row(status=status, user_id=OTHER))
    row, uow = await _book(store)
    assert uow.commits == 1
    assert row.status == Status.PENDING


async def test_back_to_back_slots_and_other_rooms_do_not_overlap() -> None:
    store = _store()
    store.put(
        _row(user_id=OTHER, starts_at=START - timedelta(minutes=120)),  # ends as ours starts
        _row(user_id=OTHER, starts_at=START + timedelta(minutes=120)),  # starts as ours ends
        _row(user_id=OTHER, service=RECORDING),  # another room, same time
    )
    row, _ = await _book(store)
    assert row.status == Status.PENDING


@pytest.mark.parametrize("status", [Status.PENDING, Status.FAILED])
async def test_a_stale_hold_on_the_slot_is_expired_and_frees_it(status: Status) -> None:
    store = _store()
    stale = _row(status=status, user_id=OTHER, hold_expires_at=NOW - timedelta(seconds=1))
    store.put(stale)
    row, uow = await _book(store)
    assert uow.commits == 1
    assert store.reservations[stale.id].status == Status.EXPIRED
    assert store.reservations[stale.id].updated_at == NOW
    assert store.outbox == [("expired", stale.id)]
    assert store.reservations[row.id].status == Status.PENDING


async def test_a_processing_hold_is_not_expired_by_a_booking() -> None:
    store = _store()
    store.put(
        _row(status=Status.PROCESSING, user_id=OTHER, hold_expires_at=NOW - timedelta(minutes=1))
    )
    await _refused(store, SlotTaken)


async def test_a_refused_booking_keeps_the_stale_hold_it_expired() -> None:
    store = _store()
    stale = _row(user_id=OTHER, hold_expires_at=NOW - timedelta(seconds=1))
    taken = _row(status=Status.SUCCEEDED, user_id=OTHER, starts_at=START + timedelta(minutes=60))
    store.put(stale, taken)
    await _refused(store, SlotTaken)  # rolled back: no expiry, no fact
    assert store.reservations[stale.id].status == Status.PENDING


async def test_a_reference_collision_is_retried_with_a_new_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = _store()
    existing = _row(user_id=OTHER, service=RECORDING)
    store.put(existing)
    references = iter([existing.reference, "RSV-NEW234"])
    monkeypatch.setattr(booking, "new_reference", lambda: next(references))
    row, uow = await _book(store)
    assert row.reference == "RSV-NEW234"
    assert uow.commits == 1
    assert len(store.reservations) == 2


async def test_the_catalog_lists_the_services() -> None:
    assert await booking.catalog(as_uow(FakeUnitOfWork(_store()))) == [MIXING, RECORDING]


# -- reading -----------------------------------------------------------------------------------


async def test_a_user_reads_only_their_own_reservations() -> None:
    store = _store()
    mine, theirs = _row(), _row(user_id=OTHER, service=RECORDING)
    store.put(mine, theirs)
    uow = as_uow(FakeUnitOfWork(store))
    assert (await booking.get(uow, USER, mine.id)).id == mine.id
    with pytest.raises(ReservationNotFound):
        await booking.get(uow, USER, theirs.id)
    assert [r.id for r in await booking.list_for(uow, USER)] == [mine.id]
    assert await booking.list_for(uow, USER, Status.SUCCEEDED) == []


# -- cancelling --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.PENDING, Status.FAILED])
async def test_an_unpaid_reservation_is_cancelled_and_frees_the_slot(status: Status) -> None:
    store = _store()
    row = _row(status=status)
    store.put(row)
    uow = FakeUnitOfWork(store)
    later = NOW + timedelta(minutes=1)
    cancelled = await booking.cancel(as_uow(uow), USER, row.id, later)
    assert uow.commits == 1
    assert cancelled.status == store.reservations[row.id].status == Status.CANCELLED
    assert store.reservations[row.id].updated_at == later
    again, _ = await _book(store, user_id=OTHER)  # the slot is free at once
    assert again.status == Status.PENDING


async def test_cancelling_twice_is_a_no_op() -> None:
    store = _store()
    row = _row(status=Status.CANCELLED)
    store.put(row)
    uow = FakeUnitOfWork(store)
    assert (await booking.cancel(as_uow(uow), USER, row.id, NOW)).status == Status.CANCELLED
    assert uow.commits == 0


@pytest.mark.parametrize(
    "status", sorted(set(Status) - {Status.PENDING, Status.FAILED, Status.CANCELLED})
)
async def test_a_paid_or_settling_reservation_cannot_be_cancelled(status: Status) -> None:
    store = _store()
    row = _row(status=status)
    store.put(row)
    uow = FakeUnitOfWork(store)
    with pytest.raises(NotCancellable) as caught:
        await booking.cancel(as_uow(uow), USER, row.id, NOW)
    assert caught.value.status == status
    assert uow.commits == 0
    assert store.reservations[row.id].status == status


async def test_another_users_reservation_cannot_be_cancelled() -> None:
    store = _store()
    row = _row(user_id=OTHER)
    store.put(row)
    with pytest.raises(ReservationNotFound):
        await booking.cancel(as_uow(FakeUnitOfWork(store)), USER, row.id, NOW)
    with pytest.raises(ReservationNotFound):
        await booking.cancel(as_uow(FakeUnitOfWork(store)), USER, "missing", NOW)
    assert store.reservations[row.id].status == Status.PENDING


# -- what checkout may charge ------------------------------------------------------------------


async def _payable(store: Store, *ids: str, user_id: str = USER) -> list[ReservationRow]:
    return await booking.payable(as_uow(FakeUnitOfWork(store)), user_id, list(ids), NOW)


@pytest.mark.parametrize("status", [Status.PENDING, Status.FAILED])
async def test_unpaid_holds_are_payable_by_their_owner(status: Status) -> None:
    store = _store()
    a, b = _row(status=status), _row(service=RECORDING)
    store.put(a, b)
    assert [r.id for r in await _payable(store, a.id, b.id, a.id)] == [a.id, b.id]
    with pytest.raises(ReservationNotFound):
        await _payable(store, a.id, user_id=OTHER)


async def test_nothing_to_pay_is_refused() -> None:
    with pytest.raises(BookingError) as caught:
        await _payable(_store())
    assert caught.value.field == "reservation_ids"


@pytest.mark.parametrize(
    "status", sorted(set(Status) - {Status.PENDING, Status.FAILED, Status.PROCESSING})
)
async def test_a_reservation_past_payment_is_not_payable(status: Status) -> None:
    store = _store()
    row = _row(status=status)
    store.put(row)
    with pytest.raises(NotPayable) as caught:
        await _payable(store, row.id)
    assert caught.value.reservation_id == row.id
    assert status in caught.value.reason


async def test_an_expired_hold_is_not_payable() -> None:
    store = _store()
    row = _row(hold_expires_at=NOW)
    store.put(row)
    with pytest.raises(NotPayable) as caught:
        await _payable(store, row.id)
    assert caught.value.reason == "its hold has expired"


async def test_a_reservation_with_an_open_checkout_page_may_get_a_new_one() -> None:
    store = _store()
    row = _row(status=Status.PROCESSING, current_session_id="cs_open")
    store.put(row)
    store.attempts[row.id] = [Attempt("cs_open", NOW - timedelta(minutes=5), Stage.OPEN)]
    assert [r.id for r in await _payable(store, row.id)] == [row.id]


@pytest.mark.parametrize("stage", [Stage.AWAITING, Stage.PAID])
async def test_a_reservation_whose_payment_is_under_way_is_not_payable(stage: Stage) -> None:
    store = _store()
    row = _row(status=Status.PROCESSING, current_session_id="cs_1")
    store.put(row)
    store.attempts[row.id] = [
        Attempt("cs_0", NOW - timedelta(minutes=9), Stage.OPEN),  # an older page, replaced
        Attempt("cs_1", NOW - timedelta(minutes=5), stage),
    ]
    with pytest.raises(NotPayable):
        await _payable(store, row.id)


# -- quotas ------------------------------------------------------------------------------------

LIMITS = BookingLimits(horizon_days=30, grid_minutes=15, max_live_holds=2, max_bookings=3)


@pytest.mark.parametrize(
    ("starts_at", "says"),
    [
        (NOW + timedelta(days=31), "more than 30 days ahead"),
        (START + timedelta(minutes=5), "15-minute slot grid"),
        (START + timedelta(seconds=1), "15-minute slot grid"),
        (datetime(2030, 1, 3, 12), "time zone"),
        (NOW, "in the future"),
    ],
)
async def test_a_start_outside_the_horizon_or_grid_is_refused(
    starts_at: datetime, says: str
) -> None:
    error = await _refused(_store(), BookingError, starts_at=starts_at, limits=LIMITS)
    assert isinstance(error, BookingError)
    assert error.field == "starts_at"
    assert says in error.message


async def test_a_start_on_the_grid_in_another_zone_is_accepted() -> None:
    plus_two = START.astimezone(timezone(timedelta(hours=2)))
    row, _ = await _book(_store(), starts_at=plus_two, limits=LIMITS)
    assert row.starts_at == START


async def test_too_many_live_holds_are_refused_until_the_oldest_runs_out() -> None:
    store = _store()
    store.put(
        _row(hold_expires_at=NOW + timedelta(minutes=7), service=RECORDING),
        _row(status=Status.PROCESSING, hold_expires_at=NOW + timedelta(minutes=20)),
        _row(status=Status.SUCCEEDED, starts_at=START + timedelta(days=1)),  # paid: not a hold
        _row(hold_expires_at=NOW, starts_at=START + timedelta(days=3)),  # run out: not counted
    )
    error = await _refused(store, QuotaExceeded, starts_at=START + timedelta(days=5), limits=LIMITS)
    assert isinstance(error, QuotaExceeded)
    assert (error.code, error.retry_after_s) == ("too_many_holds", 7 * 60)


async def test_booking_too_often_is_refused_until_the_window_moves_on() -> None:
    store = _store()
    for minutes_ago in (50, 30, 10):  # three bookings in the last hour, all cancelled since
        store.put(
            _row(
                status=Status.CANCELLED,
                created_at=NOW - timedelta(minutes=minutes_ago),
                starts_at=START + timedelta(hours=minutes_ago),
            )
        )
    error = await _refused(store, QuotaExceeded, limits=LIMITS)
    assert isinstance(error, QuotaExceeded)
    assert (error.code, error.retry_after_s) == ("booking_rate_limited", 10 * 60)


async def test_the_quotas_count_one_user_under_their_lock() -> None:
    store = _store()
    store.put(*(_row(user_id=OTHER, starts_at=START + timedelta(days=d)) for d in range(1, 6)))
    async with FakeUnitOfWork(store) as uow:
        await quotas.enforce(as_uow(uow), USER, NOW, LIMITS)  # another user's holds do not count
        assert uow.quotas.locked == [USER]


async def test_no_limits_no_quota() -> None:
    store = _store()
    store.put(*(_row(starts_at=START + timedelta(days=d)) for d in range(1, 6)))
    unlimited = BookingLimits(max_live_holds=None, max_bookings=None)
    row, _ = await _book(store, limits=unlimited)
    assert row.status == Status.PENDING


# -- the sweep ---------------------------------------------------------------------------------


class Counted:
    def __init__(self) -> None:
        self.expired: list[int] = []

    def holds_expired(self, count: int) -> None:
        self.expired.append(count)


async def test_the_sweep_expires_due_holds_in_batches_and_records_their_facts() -> None:
    store = _store()
    due = [
        _row(status=status, starts_at=START + timedelta(days=d), hold_expires_at=NOW)
        for d, status in enumerate([Status.PENDING, Status.FAILED, Status.PENDING], start=1)
    ]
    running = _row(hold_expires_at=NOW + timedelta(seconds=1))
    waiting_for_stripe = _row(status=Status.PROCESSING, hold_expires_at=NOW, service=RECORDING)
    store.put(*due, running, waiting_for_stripe)
    observer = Counted()
    uows: list[FakeUnitOfWork] = []

    def uow() -> Any:
        uows.append(FakeUnitOfWork(store))
        return uows[-1]

    assert await sweep.expire_due_holds(uow, NOW, batch_size=2, observer=observer) == 3
    assert observer.expired == [2, 1]
    assert [u.commits for u in uows] == [1, 1]
    assert {store.reservations[r.id].status for r in due} == {Status.EXPIRED}
    assert {store.reservations[r.id].updated_at for r in due} == {NOW}
    assert sorted(store.outbox) == sorted(("expired", r.id) for r in due)
    assert store.reservations[running.id].status == Status.PENDING
    assert store.reservations[waiting_for_stripe.id].status == Status.PROCESSING
    # Nothing left: one empty batch, nothing written.
    assert await sweep.expire_due_holds(uow, NOW, observer=observer) == 0
    assert observer.expired == [2, 1, 0]
    assert len(store.outbox) == 3
