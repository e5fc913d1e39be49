"""Disputes (chargebacks) opened by the cardholder's bank and closed won or lost.

Stripe takes the disputed amount (and a fee) when a dispute opens (charge.dispute.funds_withdrawn)
and gives it back when the merchant wins (charge.dispute.funds_reinstated).
"""

from __future__ import annotations

from typing import Literal

from stripe_emulator.errors import StripeError
from stripe_emulator.ids import new_id, now
from stripe_emulator.objects import Obj
from stripe_emulator.payments import Payments, RequestContext

DisputeReason = Literal[
    "fraudulent", "duplicate", "product_not_received", "product_unacceptable",
    "subscription_canceled", "credit_not_processed", "unrecognized", "general",
]  # fmt: skip
_EVIDENCE_FIELDS = [
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
]
_DISPUTE_FEE = 1500


def _balance_transaction(amount: int, currency: str, description: str, fee: int) -> Obj:
    return {
        "id": new_id("txn"),
        "object": "balance_transaction",
        "amount": amount,
        "currency": currency,
        "description": description,
        "fee": fee,
        "net": amount - fee,
        "reporting_category": "dispute" if amount < 0 else "dispute_reversal",
        "status": "available",
        "type": "adjustment",
        "created": now(),
    }


def dispute_object(charge: Obj, amount: int, reason: str) -> Obj:
    """A dispute as Stripe shapes it, needing the merchant's response."""
    method = charge["payment_method_details"]
    details: Obj = {"type": method["type"]}
    if method["type"] == "card":
        details["card"] = {
            "brand": method["card"]["brand"],
            "case_type": "chargeback",
            "network_reason_code": "10.4" if reason == "fraudulent" else "13.1",
            "network": method["card"]["network"],
        }
    evidence: Obj = dict.fromkeys(_EVIDENCE_FIELDS)
    evidence["enhanced_evidence"] = {}
    return {
        "id": new_id("dp"),
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge["id"],
        "created": now(),
        "currency": charge["currency"],
        "enhanced_eligibility_types": [],
        "evidence": evidence,
        "evidence_details": {
            "due_by": now() + 7 * 86400,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
            "enhanced_eligibility": {},
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "payment_method_details": details,
        "reason": reason,
        "status": "needs_response",
    }


def open_dispute(payments: Payments, charge: Obj, amount: int | None, reason: str) -> Obj:
    """The bank disputes a charge: charge.dispute.created, then charge.dispute.funds_withdrawn."""
    if charge.get("_dispute"):
        raise StripeError(
            f"Charge {charge['id']} is already disputed.", param="charge", code="charge_disputed"
        )
    disputable = int(charge["amount"]) - int(charge["amount_refunded"])
    amount = disputable if amount is None else amount
    if not 0 < amount <= disputable:
        raise StripeError(f"A dispute of {amount} is not within 1..{disputable}.", param="amount")
    dispute = payments.store.add(dispute_object(charge, amount, reason))
    charge.update(disputed=True, _dispute=dispute["id"])
    ctx = RequestContext()  # the cardholder's bank, not an API request
    payments.emit("charge.dispute.created", dispute, ctx)
    withdrawal = _balance_transaction(
        -amount, dispute["currency"], "Chargeback withdrawal", _DISPUTE_FEE
    )
    dispute["balance_transactions"].append(withdrawal)
    payments.emit("charge.dispute.funds_withdrawn", dispute, ctx)
    return dispute


def close_dispute(payments: Payments, dispute_id: str, *, won: bool) -> Obj:
    """The bank decides: won (charge.dispute.funds_reinstated) or lost; charge.dispute.closed."""
    dispute = payments.store.get(dispute_id, "dispute")
    if dispute["status"] in ("won", "lost"):
        raise StripeError(
            f"Dispute {dispute_id} is already closed ({dispute['status']}).", param="dispute"
        )
    previous = {"status": dispute["status"]}
    if won:
        reinstated = _balance_transaction(
            int(dispute["amount"]), dispute["currency"], "Chargeback reversal", 0
        )
        dispute["balance_transactions"].append(reinstated)
        payments.emit("charge.dispute.funds_reinstated", dispute)
    dispute.update(status="won" if won else "lost", is_charge_refundable=won)
    payments.emit("charge.dispute.closed", dispute, previous=previous)
    return dispute
