"""Routes the payment page uses: the studio catalog and bookings (through us), beats, a quote.

The reservation API admits no cross-origin browser calls (it has no CORS configuration), so the
page never calls it directly: these routes forward the page's calls with the caller's own token,
and the reservation service still decides what the caller may see and do. One origin also keeps
the page's Content-Security-Policy at `connect-src 'self'`.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from backbone.web import ApiError
from checkout.bootstrap import Container
from checkout.entrypoints.deps import Caller, CallerDep, ContainerDep, request_id_of
from checkout.entrypoints.page_schemas import BeatView, BookSlot, CheckoutQuote
from checkout.entrypoints.schemas import CreateCheckoutSession
from checkout.service_layer.checkout import CheckoutRequest

router = APIRouter()

# What a reservation id looks like. Anything else is not forwarded: a decoded "." or ".." (sent
# as %2E) would otherwise be normalised by the HTTP client into another path of the reservation
# API (`reservations/.` is the list of the caller's reservations).
_RESERVATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def _reservation_path(reservation_id: str) -> str:
    if not _RESERVATION_ID.fullmatch(reservation_id):
        raise ApiError(
            404,
            "reservation_not_found",
            "no such reservation",
            reservation_id=reservation_id[:64],
        )
    return f"/api/reservations/{quote(reservation_id, safe='')}"


def _passed_on(status: int, body: object) -> JSONResponse:
    return JSONResponse(body, status_code=status)


@router.get("/api/studio/services")
async def studio_services(c: ContainerDep, request: Request) -> JSONResponse:
    """The studio services that can be booked (the reservation service's catalog)."""
    answer = await c.reservations.forward(
        "GET", "/api/services", None, request_id=request_id_of(request)
    )
    return _passed_on(answer.status, answer.body)


@router.post("/api/studio/reservations")
async def hold_slot(
    body: BookSlot, caller: CallerDep, c: ContainerDep, request: Request
) -> JSONResponse:
    """Hold a slot for the caller: 201 a pending reservation, 409 `slot_taken`, 422 ..."""
    payload = {"service_id": body.service_id, "starts_at": body.starts_at.isoformat()}
    if body.email and not caller.principal.email:
        payload["email"] = body.email
    answer = await c.reservations.forward(
        "POST", "/api/reservations", caller.token, body=payload, request_id=request_id_of(request)
    )
    return _passed_on(answer.status, answer.body)


@router.get("/api/studio/reservations/{reservation_id}")
async def reservation(
    reservation_id: str, caller: CallerDep, c: ContainerDep, request: Request
) -> JSONResponse:
    """One of the caller's reservations with its status (another user's is a 404)."""
    return await _on_reservation("GET", reservation_id, caller, c, request)


@router.delete("/api/studio/reservations/{reservation_id}")
async def release(
    reservation_id: str, caller: CallerDep, c: ContainerDep, request: Request
) -> JSONResponse:
    """Release an unpaid hold (the user picks another slot)."""
    return await _on_reservation("DELETE", reservation_id, caller, c, request)


@router.get("/api/beats", response_model_by_alias=True)
async def beats(c: ContainerDep) -> list[BeatView]:
    """The beats on sale (cart item ids for create-checkout-session)."""
    return [BeatView.of(b) for b in await c.checkout.beats()]


@router.post("/api/checkout/quote", response_model_by_alias=True)
async def quote_order(
    body: CreateCheckoutSession, caller: CallerDep, c: ContainerDep, request: Request
) -> CheckoutQuote:
    """The server's price for these ids, exactly as create-checkout-session would charge."""
    order = await c.checkout.quote(
        CheckoutRequest(
            user_id=caller.principal.user_id,
            user_email=caller.email(body.email, production=c.settings.environment == "production"),
            token=caller.token,
            request_id=request_id_of(request),
            reservation_ids=body.reservation_ids,
            cart_item_ids=body.cart_item_ids,
        )
    )
    return CheckoutQuote.of(order)


async def _on_reservation(
    method: str, reservation_id: str, caller: Caller, c: Container, request: Request
) -> JSONResponse:
    """`method` on one of the caller's reservations at the reservation API, its answer passed on."""
    answer = await c.reservations.forward(
        method, _reservation_path(reservation_id), caller.token, request_id=request_id_of(request)
    )
    return _passed_on(answer.status, answer.body)
