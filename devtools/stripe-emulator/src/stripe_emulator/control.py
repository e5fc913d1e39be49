"""The control API for scripts and tests: drive outcomes, replay events, set faults, read logs."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from stripe_emulator.deps import DispatcherDep, PaymentsDep, local_control_only
from stripe_emulator.errors import StripeError
from stripe_emulator.payments import DeclineCode, Outcome
from stripe_emulator.store import Faults

router = APIRouter(
    prefix="/_emulator", tags=["emulator control"], dependencies=[Depends(local_control_only)]
)


class CompleteRequest(BaseModel):
    """How the customer's payment ends."""

    outcome: Outcome = Field(
        description="paid, delayed, delayed_succeeded, delayed_failed, failed or expired"
    )
    decline_code: DeclineCode = Field(
        default="generic_decline", description="The issuer's decline code when outcome=failed."
    )


class ResendRequest(BaseModel):
    """How many copies of an event to send, and where."""

    times: int = Field(default=1, ge=1, le=100, description="Copies to deliver per endpoint.")
    url: str | None = Field(default=None, description="One endpoint instead of the configured.")


class WebhookRequest(BaseModel):
    """New webhook settings; omitted fields keep their value."""

    urls: list[str] | None = Field(default=None, description="Endpoints that receive events.")
    url: str | None = Field(default=None, description="A single endpoint (replaces urls).")
    secret: str | None = Field(default=None, description="The signing secret (whsec_...).")
    enabled_events: list[str] | None = Field(default=None, description="Event types to send.")


class FaultsRequest(BaseModel):
    """Failures of the next matching API calls."""

    api_status: Literal[500, 502, 503, 504, 429] | None = Field(
        default=500, description="Status of the failing answers; null to only hold them."
    )
    count: int | None = Field(
        default=1, ge=0, description="How many next matching calls; null: until cleared; 0 clears."
    )
    delay_seconds: float = Field(
        default=0.0, ge=0, le=600, description="How long each answer is held, in seconds."
    )
    path_prefix: str | None = Field(
        default=None, description="Only calls whose path starts with this (default: every /v1)."
    )
    after_execute: bool = Field(
        default=False,
        description="Carry the call out first (its 500 is kept under the Idempotency-Key); "
        "false: fail with nothing done. A hold-only fault always carries the call out.",
    )


@router.post("/checkout/sessions/{session_id}/complete")
async def complete_session(
    payments: PaymentsDep, session_id: str, body: CompleteRequest
) -> dict[str, Any]:
    """Play a payment outcome on a session, as the hosted page would; answers the session."""
    session = payments.complete(session_id, body.outcome, body.decline_code)
    return payments.store.render(session)


@router.post("/events/{event_id}/resend")
async def resend_event(
    payments: PaymentsDep,
    dispatcher: DispatcherDep,
    event_id: str,
    body: ResendRequest | None = None,
) -> dict[str, Any]:
    """Deliver a recorded event again, unchanged (same id), freshly signed."""
    body = body or ResendRequest()
    event = payments.store.get(event_id)
    endpoints = dispatcher.publish(event, times=body.times, url=body.url)
    return {"event": event_id, "deliveries_queued": endpoints * body.times}


@router.get("/deliveries")
async def deliveries(dispatcher: DispatcherDep, event_id: str | None = None) -> dict[str, Any]:
    """The webhook delivery log, oldest first; `pending` counts deliveries not yet settled."""
    return {"pending": dispatcher.pending, "data": dispatcher.deliveries(event_id)}


@router.get("/webhook")
async def get_webhook(dispatcher: DispatcherDep) -> dict[str, Any]:
    """The current webhook endpoints and enabled events; never the secret (whether one is set)."""
    config = dispatcher.config
    return {
        "urls": config.urls,
        "enabled_events": config.enabled_events,
        "secret_configured": bool(config.secrets),
    }


@router.post("/webhook")
async def set_webhook(dispatcher: DispatcherDep, body: WebhookRequest) -> dict[str, Any]:
    """Change where events go and how they are signed, for the events that follow."""
    config = dispatcher.config
    if body.url is not None:
        config.urls = [body.url] if body.url else []
    if body.urls is not None:
        config.urls = list(body.urls)
    if body.secret is not None:
        if not body.secret:
            raise StripeError("The signing secret cannot be empty.", param="secret")
        config.secrets = [body.secret]
    if body.enabled_events is not None:
        config.enabled_events = list(body.enabled_events)
    return await get_webhook(dispatcher)


@router.post("/faults")
async def set_faults(payments: PaymentsDep, body: FaultsRequest) -> dict[str, Any]:
    """Make the next `count` matching API calls fail with `api_status` and/or be held."""
    payments.store.faults = Faults(
        api_status=body.api_status,
        remaining=body.count,
        delay_seconds=body.delay_seconds,
        path_prefix=body.path_prefix,
        after_execute=body.after_execute,
    )
    return payments.store.faults.describe()


@router.get("/faults")
async def get_faults(payments: PaymentsDep) -> dict[str, Any]:
    """The current fault; `count` is how many calls it still affects (null: until cleared)."""
    return payments.store.faults.describe()


@router.delete("/faults")
async def clear_faults(payments: PaymentsDep) -> dict[str, Any]:
    """No more faults."""
    payments.store.faults = Faults()
    return payments.store.faults.describe()


@router.post("/reset")
async def reset(payments: PaymentsDep, dispatcher: DispatcherDep) -> dict[str, Any]:
    """Back to the start: no objects, events, keys, faults or deliveries; webhook as configured."""
    payments.store.reset()
    dispatcher.cancel_pending()
    dispatcher.log.clear()
    dispatcher.config = dispatcher.initial_config()
    return {"reset": True}
