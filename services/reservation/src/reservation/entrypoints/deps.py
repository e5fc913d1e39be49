"""FastAPI dependencies of the reservation routes: the container, the verified caller, limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backbone.auth import JwtVerifier, Principal, bearer_token
from reservation.bootstrap import Container
from reservation.service_layer.quotas import BookingLimits
from reservation.settings import Settings


def booking_limits(settings: Settings) -> BookingLimits:
    """How far ahead, on which grid and how often one user may book (RESERVATION_*)."""
    return BookingLimits(
        horizon_days=settings.booking_horizon_days,
        grid_minutes=settings.slot_grid_minutes,
        max_live_holds=settings.max_live_holds,
        max_bookings=settings.max_bookings_per_window,
        window_s=settings.booking_window_s,
    )


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def _principal(request: Request) -> Principal:
    verifier: JwtVerifier = request.app.state.verifier
    return await verifier.averify(bearer_token(request.headers.get("authorization")))


def _limits(request: Request) -> BookingLimits:
    limits: BookingLimits = request.app.state.limits
    return limits


ContainerDep = Annotated[Container, Depends(_container)]
PrincipalDep = Annotated[Principal, Depends(_principal)]
LimitsDep = Annotated[BookingLimits, Depends(_limits)]
