"""GET /api/services: the studio's catalog."""

from __future__ import annotations

from fastapi import APIRouter

from reservation.entrypoints.deps import ContainerDep
from reservation.entrypoints.schemas import ServiceView
from reservation.service_layer import booking

router = APIRouter(prefix="/api/services", tags=["services"])


@router.get("")
async def services(c: ContainerDep) -> list[ServiceView]:
    """The studio services that can be booked, with durations and prices."""
    return [ServiceView.of(s) for s in await booking.catalog(c.uow())]
