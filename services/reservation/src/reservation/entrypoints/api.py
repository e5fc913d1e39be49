"""The reservation HTTP API (FastAPI): catalog, booking, reading, cancelling, payability."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from prometheus_client import Counter

from backbone import web
from backbone.auth import (
    JwtVerifier,
    Principal,
    TypedEmailRefused,
    bearer_token,
    confirmation_email,
)
from backbone.db.engine import database_probe
from backbone.logging import bound_ids, get_logger
from reservation.bootstrap import Container, utc_now
from reservation.entrypoints import api_errors
from reservation.entrypoints.api_schemas import (
    BookRequest,
    PayableRequest,
    PayableView,
    ReservationView,
    ServiceView,
    email_problem,
)
from reservation.service_layer import booking
from reservation.service_layer.errors import BookingError
from reservation.service_layer.quotas import BookingLimits

log = get_logger(__name__)

BOOKINGS = Counter("reservation_bookings_total", "Booking requests by outcome.", ["outcome"])


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def _principal(request: Request) -> Principal:
    verifier: JwtVerifier = request.app.state.verifier
    return await verifier.averify(bearer_token(request.headers.get("authorization")))


ContainerDep = Annotated[Container, Depends(_container)]
PrincipalDep = Annotated[Principal, Depends(_principal)]


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


def create_app(container: Container, verifier: JwtVerifier | None = None) -> FastAPI:
    """The API over a built container (the caller owns the container's lifetime)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await container.close()

    app = FastAPI(title="reservation", version="1", lifespan=lifespan)
    app.state.container = container
    app.state.verifier = verifier or JwtVerifier(container.settings.auth)
    web.install(app, ready=database_probe(container.engine))
    api_errors.install(app)
    settings = container.settings
    limits = BookingLimits(
        horizon_days=settings.booking_horizon_days,
        grid_minutes=settings.slot_grid_minutes,
        max_live_holds=settings.max_live_holds,
        max_bookings=settings.max_bookings_per_window,
        window_s=settings.booking_window_s,
    )

    @app.get("/api/services")
    async def services(c: ContainerDep) -> list[ServiceView]:
        """The studio services that can be booked, with durations and prices."""
        return [ServiceView.of(s) for s in await booking.catalog(c.uow())]

    @app.post("/api/reservations", status_code=201)
    async def book(body: BookRequest, user: PrincipalDep, c: ContainerDep) -> ReservationView:
        """Hold a slot: a pending reservation, priced here, expiring unless paid."""
        email = _confirmation_email(user, body, production=settings.environment == "production")
        try:
            row = await booking.book(
                c.uow(),
                user_id=user.user_id,
                user_email=email,
                service_id=body.service_id,
                starts_at=body.starts_at,
                now=utc_now(),
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

    @app.get("/api/reservations")
    async def mine(
        user: PrincipalDep, c: ContainerDep, status: str | None = None
    ) -> list[ReservationView]:
        """The caller's reservations, soonest first (optionally of one status)."""
        return [
            ReservationView.of(r) for r in await booking.list_for(c.uow(), user.user_id, status)
        ]

    @app.get("/api/reservations/{reservation_id}")
    async def one(reservation_id: str, user: PrincipalDep, c: ContainerDep) -> ReservationView:
        """One of the caller's reservations (another user's is a 404)."""
        return ReservationView.of(await booking.get(c.uow(), user.user_id, reservation_id))

    @app.delete("/api/reservations/{reservation_id}")
    async def cancel(reservation_id: str, user: PrincipalDep, c: ContainerDep) -> ReservationView:
        """Cancel an unpaid reservation and free its slot."""
        row = await booking.cancel(c.uow(), user.user_id, reservation_id, utc_now())
        return ReservationView.of(row)

    @app.post("/api/reservations/payable")
    async def payable(body: PayableRequest, user: PrincipalDep, c: ContainerDep) -> PayableView:
        """For checkout: the caller's reservations if all can be paid now, else a 4xx naming
        the first offending id (404 unknown or another user's, 409 not payable)."""
        rows = await booking.payable(c.uow(), user.user_id, body.reservation_ids, utc_now())
        return PayableView(
            reservations=[ReservationView.of(r) for r in rows],
            total=sum(r.amount for r in rows),
            currency=rows[0].currency,
            hold_expires_at=min(r.hold_expires_at for r in rows),
        )

    return app
