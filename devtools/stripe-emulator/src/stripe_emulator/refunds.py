"""Refunds: created through the API or the Dashboard, pending until the bank answers, or failed.

Like Stripe, a refund counts against the charge (amount_refunded) from its creation, pending
included; a refund that fails gives its amount back to the charge.
"""

from __future__ import annotations

from typing import Literal

from stripe_emulator.errors import StripeError
from stripe_emulator.ids import new_id
from stripe_emulator.objects import Obj, list_object
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

_PARAMS = frozenset(
    {
        "payment_intent",
        "charge",
        "amount",
        "reason",
        "metadata",
        "expand",
        "instructions_email",
        "refund_application_fee",
        "reverse_transfer",
    }
)
REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
FailureReason = Literal[
    "lost_or_stolen_card", "expired_or_canceled_card", "charge_for_pending_refund_disputed",
    "insufficient_funds", "declined", "merchant_request", "unknown",
]  # fmt: skip
# a charge with a dispute in one of these cannot be refunded (Stripe: charge_disputed)
UNREFUNDABLE_DISPUTE = frozenset(
    {"warning_needs_response", "warning_under_review", "needs_response", "under_review", "lost"}
)


def charge_of(payments: Payments, pi_id: str | None, charge_id: str | None) -> Obj:
    """The succeeded charge a refund or dispute names (by payment intent or charge)."""
    if pi_id is None and charge_id is None:
        raise StripeError(
            "One of the following params should be provided for this request: "
            "payment_intent or charge.",
            param="payment_intent",
            code="parameter_missing",
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
        raise StripeError(
            f"Charge {charge_id} has not succeeded.", param="charge", code="charge_not_refundable"
        )
    return charge


def _sync_charge(payments: Payments, charge: Obj) -> None:
    """amount_refunded, refunded and the refunds list of a charge, from its refunds."""
    mine = [r for r in payments.store.refunds.values() if r["charge"] == charge["id"]]
    live = [r for r in mine if r["status"] in ("pending", "succeeded", "requires_action")]
    charge["amount_refunded"] = sum(int(r["amount"]) for r in live)
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    rendered = [payments.store.render(r) for r in reversed(mine)]
    charge["refunds"] = list_object(f"/v1/charges/{charge['id']}/refunds", rendered)


def refund_charge(
    payments: Payments,
    charge: Obj,
    amount: int | None,
    *,
    reason: str | None,
    metadata: dict[str, str],
    ctx: RequestContext,
    pending: bool,
) -> Obj:
    """Refund all (None) or part of a charge; emits refund.created and charge.refunded."""
    dispute = payments.store.disputes.get(charge.get("_dispute") or "")
    if dispute is not None and dispute["status"] in UNREFUNDABLE_DISPUTE:
        raise StripeError(
            f"Charge {charge['id']} has been charged back; cannot issue a refund.",
            param="charge",
            code="charge_disputed",
            executed=True,
        )
    left = int(charge["amount"]) - int(charge["amount_refunded"])
    if left <= 0:
        raise StripeError(
            f"Charge {charge['id']} has already been refunded.",
            code="charge_already_refunded",
            executed=True,
        )
    amount = left if amount is None else amount
    if amount > left:
        raise StripeError(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
            param="amount",
            code="amount_too_large",
            executed=True,
        )
    status = "pending" if pending else "succeeded"
    refund = payments.store.add(refund_object(charge, amount, reason, metadata, status))
    _sync_charge(payments, charge)
    payments.emit("refund.created", refund, ctx)
    payments.emit("charge.refunded", charge, ctx)
    return refund


def _next_is_pending(payments: Payments) -> bool:
    left = payments.store.refunds_pending
    return left is None or left > 0


def _count_pending(payments: Payments) -> None:
    """One of the next pending refunds was made (a refused one does not count)."""
    store = payments.store
    if store.refunds_pending is not None and store.refunds_pending > 0:
        store.refunds_pending -= 1


def create_refund(payments: Payments, params: Params, ctx: RequestContext) -> Obj:
    """POST /v1/refunds: all or part of a succeeded payment."""
    reject_unknown(params, _PARAMS)
    if params.get("amount") == "":
        raise StripeError(
            "You passed an empty string for 'amount'. We assume empty values are an attempt to "
            "unset a parameter; however 'amount' cannot be unset.",
            param="amount",
            code="parameter_invalid_empty",
        )
    amount = get_int(params, "amount")
    if amount is not None and amount < 1:
        raise StripeError(
            "This value must be greater than or equal to 1.",
            param="amount",
            code="parameter_invalid_integer",
        )
    reason = get_str(params, "reason")
    if reason is not None and reason not in REASONS:
        raise StripeError(
            "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
            param="reason",
        )
    metadata = validate_metadata(get_dict(params, "metadata"))
    charge = charge_of(payments, get_str(params, "payment_intent"), get_str(params, "charge"))
    pending = _next_is_pending(payments)
    refund = refund_charge(
        payments, charge, amount, reason=reason, metadata=metadata, ctx=ctx, pending=pending
    )
    if pending:
        _count_pending(payments)
    return refund


def dashboard_context() -> RequestContext:
    """The request of an action taken in the Dashboard: an id, no idempotency key."""
    return RequestContext(new_id("req", 14), None)


def settle_refund(
    payments: Payments, refund_id: str, *, succeeded: bool, failure_reason: FailureReason
) -> Obj:
    """The bank's answer to a pending refund.

    Emits refund.updated (and refund.failed when it failed) and charge.refund.updated.
    """
    refund = payments.store.get(refund_id, "refund")
    if refund["status"] != "pending":
        raise StripeError(
            f"Refund {refund_id} is {refund['status']}, not pending.",
            param="refund",
            code="refund_unexpected_state",
        )
    charge = payments.store.get(refund["charge"], "charge")
    if succeeded:
        refund["status"] = "succeeded"
    else:
        refund.update(
            status="failed",
            failure_reason=failure_reason,
            failure_balance_transaction=new_id("txn"),
        )
    _sync_charge(payments, charge)
    payments.emit("refund.updated", refund, previous={"status": "pending"})
    if not succeeded:
        payments.emit("refund.failed", refund)
    payments.emit("charge.refund.updated", refund, previous={"status": "pending"})
    return refund
