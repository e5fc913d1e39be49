"""Refunds: POST /v1/refunds against a succeeded payment, emitting charge.refunded."""

from __future__ import annotations

from stripe_emulator.errors import StripeError
from stripe_emulator.objects import Obj
from stripe_emulator.params import (
    Params,
    get_dict,
    get_int,
    get_str,
    reject_unknown,
    validate_metadata,
)
from stripe_emulator.payment_objects import refund as refund_object
from stripe_emulator.payments import Payments, RequestContext

_PARAMS = frozenset({"payment_intent", "charge", "amount", "reason", "metadata", "expand"})
_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})


def _charge_to_refund(payments: Payments, params: Params) -> Obj:
    pi_id, charge_id = get_str(params, "payment_intent"), get_str(params, "charge")
    if pi_id is None and charge_id is None:
        raise StripeError(
            "One of the following params should be provided for this request: "
            "payment_intent or charge."
        )
    if charge_id is None:
        intent = payments.store.get(str(pi_id), "payment_intent")
        if intent["status"] != "succeeded" or not intent["latest_charge"]:
            raise StripeError(
                f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                param="payment_intent",
                code="charge_not_refundable",
            )
        charge_id = str(intent["latest_charge"])
    charge = payments.store.get(charge_id, "charge")
    if charge["status"] != "succeeded":
        raise StripeError(f"Charge {charge_id} has not succeeded.", param="charge")
    return charge


def create_refund(payments: Payments, params: Params, ctx: RequestContext) -> Obj:
    """Refund all or part of a succeeded payment; emits refund.created and charge.refunded."""
    reject_unknown(params, _PARAMS)
    charge = _charge_to_refund(payments, params)
    left = int(charge["amount"]) - int(charge["amount_refunded"])
    if left <= 0:
        raise StripeError(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    amount = get_int(params, "amount")
    amount = left if amount is None else amount
    if amount > left:
        raise StripeError(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
            param="amount",
            code="amount_too_large",
        )
    if amount < 1:
        raise StripeError("Refund amount must be positive.", param="amount")
    reason = get_str(params, "reason")
    if reason is not None and reason not in _REASONS:
        raise StripeError(f"Invalid reason: must be one of {sorted(_REASONS)}", param="reason")
    metadata = validate_metadata(get_dict(params, "metadata"))
    refund = payments.store.add(refund_object(charge, amount, reason, metadata))
    charge["amount_refunded"] = int(charge["amount_refunded"]) + amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    charge["refunds"]["data"].insert(0, payments.store.render(refund))
    payments.emit("refund.created", refund, ctx)
    payments.emit("charge.refunded", charge, ctx)
    return refund
