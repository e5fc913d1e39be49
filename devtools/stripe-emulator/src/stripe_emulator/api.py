"""The emulated part of Stripe's v1 HTTP API."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from stripe_emulator import refunds
from stripe_emulator.deps import FormParams, PaymentsDep, QueryParams, check_api_key
from stripe_emulator.errors import StripeError, request_id_of
from stripe_emulator.faults import after_execute_error
from stripe_emulator.objects import Obj
from stripe_emulator.params import Params, get_list, get_str, reject_unknown
from stripe_emulator.payments import RequestContext
from stripe_emulator.store import IdempotencyRecord, Store, created_filter, paginate, same_params

router = APIRouter(prefix="/v1", dependencies=[Depends(check_api_key)])

_LIST = frozenset({"limit", "starting_after", "ending_before", "created", "expand"})
_RETRIEVE = frozenset({"expand"})


def _expand(params: Params) -> list[str]:
    return [str(e) for e in get_list(params, "expand")]


def _ok(request: Request, body: Obj, status: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(
        body, status_code=status, headers={"Request-Id": request_id_of(request), **headers}
    )


def _idempotent(
    request: Request, store: Store, params: Params, run: Callable[[RequestContext], Obj]
) -> JSONResponse:
    """Run a POST once per Idempotency-Key, by Stripe's rules.

    A replay answers what the first call answered (500s included); a call that failed
    validation stores nothing; a call while another with its key is still being handled gets
    409 idempotency_key_in_use and stores nothing.
    """
    key = request.headers.get("Idempotency-Key")
    rid = request_id_of(request)
    fingerprint = (request.method, request.url.path, same_params(params))
    if key:
        record = store.idempotency.get(key)
        if record is not None:
            if record.fingerprint != fingerprint:
                raise StripeError(
                    "Keys for idempotent requests can only be used with the same parameters they "
                    f"were first used with. Try using a key other than '{key}' if you meant to "
                    "execute a different request.",
                    type="idempotency_error",
                )
            return _ok(
                request,
                record.body,
                record.status,
                **{"Idempotent-Replayed": "true", "Idempotency-Key": key},
            )
        if key in store.keys_in_use:
            raise StripeError(
                "There is currently another in-progress request using this Idempotent Key "
                "(that probably means you submitted twice, and the other request is still going "
                f"through): {key}. Please try again later.",
                status=409,
                code="idempotency_key_in_use",
            )
    try:
        status, body, executed = (
            200,
            store.render(run(RequestContext(rid, key)), _expand(params)),
            True,
        )
    except StripeError as exc:
        status, body, executed = exc.status, exc.body(rid), exc.executed
    fault = after_execute_error(request)
    if fault is not None and executed:  # done, then Stripe failed: the failure is what is kept
        status, body = fault.status, fault.body(rid)
    if key and executed:
        store.idempotency[key] = IdempotencyRecord(fingerprint, status, body)
    headers = {"Idempotency-Key": key} if key else {}
    return _ok(request, body, status, **headers)


def _retrieve(
    request: Request, payments: PaymentsDep, params: Params, object_id: str, *, param: str
) -> JSONResponse:
    reject_unknown(params, _RETRIEVE)
    store = payments.store
    return _ok(request, store.render(store.get(object_id, param), _expand(params)))


@router.post("/checkout/sessions")
async def create_checkout_session(
    request: Request, payments: PaymentsDep, params: FormParams
) -> JSONResponse:
    """Create a Checkout Session (mode=payment, price_data line items)."""
    return _idempotent(request, payments.store, params, lambda _: payments.create_session(params))


@router.get("/checkout/sessions")
async def list_checkout_sessions(
    request: Request, payments: PaymentsDep, params: QueryParams
) -> JSONResponse:
    """List Checkout Sessions, newest first (created, status and payment_intent filters)."""
    reject_unknown(params, _LIST | {"status", "payment_intent"})
    by_created = created_filter(params)
    status, pi = get_str(params, "status"), get_str(params, "payment_intent")

    def keep(s: Obj) -> bool:
        return by_created(s) and status in (None, s["status"]) and pi in (None, s["payment_intent"])

    store = payments.store
    return _ok(
        request, paginate("/v1/checkout/sessions", store.sessions.values(), params, keep, store)
    )


@router.get("/checkout/sessions/{session_id}")
async def retrieve_checkout_session(
    request: Request, payments: PaymentsDep, params: QueryParams, session_id: str
) -> JSONResponse:
    """Retrieve a Checkout Session."""
    return _retrieve(request, payments, params, session_id, param="session")


@router.get("/checkout/sessions/{session_id}/line_items")
async def list_line_items(
    request: Request, payments: PaymentsDep, params: QueryParams, session_id: str
) -> JSONResponse:
    """List a Checkout Session's line items."""
    reject_unknown(params, _LIST - {"created"})
    store = payments.store
    store.get(session_id, "session")
    items = store.line_items.get(session_id, [])
    url = f"/v1/checkout/sessions/{session_id}/line_items"
    # line items are listed in the order given, so paginate over the reversed list
    return _ok(request, paginate(url, list(reversed(items)), params, lambda _: True, store))


@router.post("/checkout/sessions/{session_id}/expire")
async def expire_checkout_session(
    request: Request, payments: PaymentsDep, params: FormParams, session_id: str
) -> JSONResponse:
    """Expire an open Checkout Session (emits checkout.session.expired)."""
    reject_unknown(params, _RETRIEVE)
    return _idempotent(
        request, payments.store, params, lambda _: payments.expire_session(session_id)
    )


@router.get("/payment_intents/{intent_id}")
async def retrieve_payment_intent(
    request: Request, payments: PaymentsDep, params: QueryParams, intent_id: str
) -> JSONResponse:
    """Retrieve a PaymentIntent."""
    return _retrieve(request, payments, params, intent_id, param="intent")


@router.get("/charges/{charge_id}")
async def retrieve_charge(
    request: Request, payments: PaymentsDep, params: QueryParams, charge_id: str
) -> JSONResponse:
    """Retrieve a Charge."""
    return _retrieve(request, payments, params, charge_id, param="charge")


@router.post("/refunds")
async def create_refund(
    request: Request, payments: PaymentsDep, params: FormParams
) -> JSONResponse:
    """Refund a payment in full or in part (emits refund.created and charge.refunded)."""
    return _idempotent(
        request, payments.store, params, lambda ctx: refunds.create_refund(payments, params, ctx)
    )


@router.get("/refunds")
async def list_refunds(
    request: Request, payments: PaymentsDep, params: QueryParams
) -> JSONResponse:
    """List refunds, newest first (charge, payment_intent and created filters)."""
    reject_unknown(params, _LIST | {"charge", "payment_intent"})
    by_created = created_filter(params)
    charge, pi = get_str(params, "charge"), get_str(params, "payment_intent")

    def keep(r: Obj) -> bool:
        return by_created(r) and charge in (None, r["charge"]) and pi in (None, r["payment_intent"])

    store = payments.store
    return _ok(request, paginate("/v1/refunds", store.refunds.values(), params, keep, store))


@router.get("/disputes/{dispute_id}")
async def retrieve_dispute(
    request: Request, payments: PaymentsDep, params: QueryParams, dispute_id: str
) -> JSONResponse:
    """Retrieve a Dispute."""
    return _retrieve(request, payments, params, dispute_id, param="dispute")


@router.get("/refunds/{refund_id}")
async def retrieve_refund(
    request: Request, payments: PaymentsDep, params: QueryParams, refund_id: str
) -> JSONResponse:
    """Retrieve a Refund."""
    return _retrieve(request, payments, params, refund_id, param="refund")


@router.get("/events")
async def list_events(request: Request, payments: PaymentsDep, params: QueryParams) -> JSONResponse:
    """List events, newest first (created, type with '*' wildcards, types[])."""
    reject_unknown(params, _LIST | {"type", "types", "delivery_success"})
    by_created = created_filter(params)
    single = get_str(params, "type")
    types = [str(t) for t in get_list(params, "types")]
    if single and types:
        raise StripeError(
            "You may only specify one of these parameters: type, types.",
            code="parameters_exclusive",
        )
    wanted = types or ([single] if single else [])

    def matches(event_type: str, pattern: str) -> bool:
        if "*" in pattern:
            return event_type.startswith(pattern.split("*", 1)[0])
        return event_type == pattern

    def keep(e: Obj) -> bool:
        return by_created(e) and (not wanted or any(matches(e["type"], p) for p in wanted))

    store = payments.store
    return _ok(request, paginate("/v1/events", store.events.values(), params, keep, store))


@router.get("/events/{event_id}")
async def retrieve_event(
    request: Request, payments: PaymentsDep, params: QueryParams, event_id: str
) -> JSONResponse:
    """Retrieve an event."""
    return _retrieve(request, payments, params, event_id, param="id")
