"""/api/reservations: booking, reading, cancelling, and checkout's payability check."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import Counter

from backbone.auth import Principal, TypedEmailRefused, confirmation_email
from backbone.logging import bound_ids, get_logger
from reservation.entrypoints.deps import ContainerDep, LimitsDep, PrincipalDep
from reservation.entrypoints.schemas import (
    BookRequest,
    PayableRequest,
    PayableView,
    ReservationView,
    email_problem,
)
from reservation.service_layer import booking
from reservation.service_layer.errors import BookingError

log = get_logger(__name__)

BOOKINGS = Counter("reservation_bookings_total", "Booking requests by outcome.", ["outcome"])

router = APIRouter(prefix="/api/reservations", tags=["reservations"])


def _confirmation_email(user: Principal, body: BookRequest, *, production: bool) -> str:
    """Where this booking's e-mails go: the verified token's claim; a typed address only in
    development (in production anyone could have confirmations sent to any address)."""
    try:
        email = confirmation_email(user, body.email, production=production)
    except TypedEmailRefused as exc:
        raise BookingError("email", str(exc)) from exc
    if not email:
        raise BookingError("email", "no e-mail in the token claims nor in the request")
    problem = email_problem(email)
    if problem:
        raise BookingError("email", f"the token's e-mail claim: {problem}")
    return email


@router.post("", status_code=201)
async def book(
    body: BookRequest, user: PrincipalDep, c: ContainerDep, limits: LimitsDep
) -> ReservationView:
    """Hold a slot: a pending reservation, priced here, expiring unless paid."""
    production = c.settings.environment == "production"
    email = _confirmation_email(user, body, production=production)
    try:
        row = await booking.book(
            c.uow(),
            user_id=user.user_id,
            user_email=email,
            service_id=body.service_id,
            starts_at=body.starts_at,
            now=c.clock(),
            hold_minutes=c.settings.hold_minutes,
            limits=limits,
        )
    except Exception as exc:
        BOOKINGS.labels(type(exc).__name__).inc()
        raise
    BOOKINGS.labels("booked").inc()
    with bound_ids(reservation_id=row.id):
        log.info("reservation.booked", user_id=user.user_id, resource=row.resource)
    return ReservationView.of(row)


@router.get("")
async def mine(
    user: PrincipalDep, c: ContainerDep, status: str | None = None
) -> list[ReservationView]:
    """The caller's reservations, soonest first (optionally of one status)."""
    return [ReservationView.of(r) for r in await booking.list_for(c.uow(), user.user_id, status)]


@router.post("/payable")
async def payable(body: PayableRequest, user: PrincipalDep, c: ContainerDep) -> PayableView:
    """For checkout: the caller's reservations if all can be paid now, else a 4xx naming
    the first offending id (404 unknown or another user's, 409 not payable)."""
    rows = await booking.payable(c.uow(), user.user_id, body.reservation_ids, c.clock())
    return PayableView(
        reservations=[ReservationView.of(r) for r in rows],
        total=sum(r.amount for r in rows),
        currency=rows[0].currency,
        hold_expires_at=min(r.hold_expires_at for r in rows),
    )


@router.get("/{reservation_id}")
async def one(reservation_id: str, user: PrincipalDep, c: ContainerDep) -> ReservationView:
    """One of the caller's reservations (another user's is a 404)."""
    return ReservationView.of(await booking.get(c.uow(), user.user_id, reservation_id))


@router.delete("/{reservation_id}")
async def cancel(reservation_id: str, user: PrincipalDep, c: ContainerDep) -> ReservationView:
    """Cancel an unpaid reservation and free its slot."""
    row = await booking.cancel(c.uow(), user.user_id, reservation_id, c.clock())
    return ReservationView.of(row)
