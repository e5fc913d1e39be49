"""Checkout Sessions: create one (the seed's create-checkout-session and its alias), read one."""

from __future__ import annotations

from fastapi import APIRouter, Request

from backbone.logging import bound_ids
from checkout.entrypoints.deps import CallerDep, ContainerDep, request_id_of
from checkout.entrypoints.schemas import (
    CheckoutSessionCreated,
    CheckoutSessionView,
    CreateCheckoutSession,
)
from checkout.service_layer.checkout import CheckoutRequest

CREATE_PATH = "/api/clerk/create-checkout-session"
# The dedicated reservation-payment path: the same endpoint under a name that says what it is.
CREATE_ALIAS = "/api/reservation-payments/checkout-session"

router = APIRouter(tags=["checkout-sessions"])


async def create(
    body: CreateCheckoutSession, caller: CallerDep, c: ContainerDep, request: Request
) -> CheckoutSessionCreated:
    """Open (or answer again) the Stripe Checkout Session for the caller's items."""
    request_id = request_id_of(request)
    with bound_ids(user_id=caller.principal.user_id):
        result = await c.checkout.create(
            CheckoutRequest(
                user_id=caller.principal.user_id,
                user_email=caller.email(
                    body.email, production=c.settings.environment == "production"
                ),
                token=caller.token,
                request_id=request_id,
                reservation_ids=body.reservation_ids,
                cart_item_ids=body.cart_item_ids,
            )
        )
    return CheckoutSessionCreated(session_id=result.session.session_id, url=result.session.url)


for path in (CREATE_PATH, CREATE_ALIAS):
    router.add_api_route(
        path,
        create,
        methods=["POST"],
        response_model=CheckoutSessionCreated,
        response_model_by_alias=True,
    )


@router.get("/api/checkout-sessions/{session_id}", response_model_by_alias=True)
async def one(session_id: str, caller: CallerDep, c: ContainerDep) -> CheckoutSessionView:
    """The caller's session and its status (another user's is a 404)."""
    row = await c.checkout.get(caller.principal.user_id, session_id)
    return CheckoutSessionView.of(row)
