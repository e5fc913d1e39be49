"""Booking use cases behind the API: book, read, list, cancel, check what checkout may charge."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from reservation.domain.model import (
    CANCELLABLE_STATUSES,
    PAYABLE_STATUSES,
    BookingError,
    Status,
    StudioService,
    hold_expiry,
    new_reference,
    plan_slot,
)
from reservation.domain.payments import Stage
from reservation.service_layer import quotas
from reservation.service_layer.errors import (
    NotCancellable,
    NotPayable,
    ReferenceTaken,
    ReservationNotFound,
)
from reservation.service_layer.ports import ReservationRecord, ReservationUnitOfWork


async def catalog(uow: ReservationUnitOfWork) -> list[StudioService]:
    """The bookable services."""
    async with uow:
        return await uow.repo.services()


async def book(
    uow: ReservationUnitOfWork,
    *,
    user_id: str,
    user_email: str,
    service_id: str,
    starts_at: datetime,
    now: datetime,
    hold_minutes: int,
    limits: quotas.BookingLimits | None = None,
) -> ReservationRecord:
    """Hold a slot for `user_id`: a pending reservation priced from the catalog.

    With `limits` (the API's), the start must be within the horizon and on the grid, and the
    user under the hold and rate quotas (QuotaExceeded otherwise).

    The exclusion constraint is the arbiter: of two concurrent bookings of one slot the second
    insert fails (SlotTaken). Holds already run out on the slot are expired first, in the same
    transaction, so a lagging sweep never blocks a booking.
    """
    if limits is not None:
        quotas.check_start(starts_at, now, limits)
    for _ in range(3):  # a booking reference collision is retried with a new reference
        try:
            async with uow:
                if limits is not None:
                    await quotas.enforce(uow, user_id, now, limits)
                service = await uow.repo.service(service_id)
                if service is None:
                    raise BookingError("service_id", f"unknown service {service_id!r}")
                slot = plan_slot(service, starts_at, now)
                for stale in await uow.repo.stale_holds_on(slot, now):
                    stale.status = Status.EXPIRED
                    stale.updated_at = now
                    uow.facts.expired(stale)
                # The exclusion constraint is checked here: SlotTaken if another live
                # reservation holds part of the slot, ReferenceTaken on a reference collision.
                row = await uow.repo.insert(
                    id=str(uuid.uuid4()),
                    reference=new_reference(),
                    user_id=user_id,
                    user_email=user_email,
                    service_id=service.id,
                    service_name=service.name,
                    slot=slot,
                    amount=service.price,
                    currency=service.currency,
                    status=Status.PENDING,
                    hold_expires_at=hold_expiry(now, hold_minutes, slot.starts_at),
                    now=now,
                )
                await uow.commit()
                return row
        except ReferenceTaken:
            continue
    raise RuntimeError("could not allocate a booking reference")


async def get(uow: ReservationUnitOfWork, user_id: str, reservation_id: str) -> ReservationRecord:
    """The caller's reservation; another user's is not found."""
    async with uow:
        row = await uow.repo.get(reservation_id)
    if row is None or row.user_id != user_id:
        raise ReservationNotFound(reservation_id)
    return row


async def list_for(
    uow: ReservationUnitOfWork, user_id: str, status: str | None = None
) -> list[ReservationRecord]:
    """The caller's reservations."""
    async with uow:
        return list(await uow.repo.for_user(user_id, status))


async def cancel(
    uow: ReservationUnitOfWork, user_id: str, reservation_id: str, now: datetime
) -> ReservationRecord:
    """Cancel an unpaid reservation with no payment in flight; its slot is free at once."""
    async with uow:
        row = await uow.repo.get(reservation_id, for_update=True)
        if row is None or row.user_id != user_id:
            raise ReservationNotFound(reservation_id)
        if row.status == Status.CANCELLED:
            return row
        if row.status not in CANCELLABLE_STATUSES:
            raise NotCancellable(reservation_id, row.status)
        row.status = Status.CANCELLED
        row.updated_at = now
        await uow.commit()
        return row


async def payable(
    uow: ReservationUnitOfWork, user_id: str, reservation_ids: Sequence[str], now: datetime
) -> list[ReservationRecord]:
    """The caller's reservations if every one can be paid now; else the first offending id."""
    if not reservation_ids:
        raise BookingError("reservation_ids", "at least one reservation id is required")
    async with uow:
        rows: dict[str, ReservationRecord] = {}
        for reservation_id in reservation_ids:
            row = await uow.repo.get(reservation_id)
            if row is None or row.user_id != user_id:
                raise ReservationNotFound(reservation_id)
            if row.status not in PAYABLE_STATUSES and not await _checkout_open(uow, row):
                raise NotPayable(reservation_id, f"it is {row.status}")
            if row.hold_expires_at <= now:
                raise NotPayable(reservation_id, "its hold has expired")
            rows[reservation_id] = row
    return list(rows.values())


async def _checkout_open(uow: ReservationUnitOfWork, row: ReservationRecord) -> bool:
    """Processing only because a checkout page is open (nothing paid yet): a new session may
    replace it, as the newest session speaks for the reservation."""
    if row.status != Status.PROCESSING:
        return False
    attempts = {a.session_id: a for a in await uow.repo.attempts(row.id)}
    current = attempts.get(row.current_session_id or "")
    return current is not None and current.stage is Stage.OPEN
