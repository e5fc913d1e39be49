"""Builders of Stripe-shaped payment objects: payment_intent, charge, refund."""

from __future__ import annotations

from stripe_emulator.ids import new_id, now, random_token
from stripe_emulator.objects import NULL_ADDRESS, Obj, list_object


def payment_intent(session: Obj, extra: Obj) -> Obj:
    """The PaymentIntent Checkout creates when the customer first tries to pay."""
    pi_id = new_id("pi")
    intent: Obj = {
        "id": pi_id,
        "object": "payment_intent",
        "amount": session["amount_total"],
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{pi_id}_secret_{random_token(25)}",
        "confirmation_method": "automatic",
        "created": now(),
        "currency": session["currency"],
        "customer": None,
        "customer_account": None,
        "description": None,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": list(session["payment_method_types"]),
        "processing": None,
        "receipt_email": session.get("customer_email"),
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }
    intent.update(extra)
    return intent


def payment_method_details(method: str) -> Obj:
    """What the charge records of how it was paid."""
    if method == "card":
        return {
            "type": "card",
            "card": {
                "brand": "visa",
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": None,
                    "cvc_check": "pass",
                },
                "country": "US",
                "exp_month": 12,
                "exp_year": 2034,
                "fingerprint": random_token(16),
                "funding": "credit",
                "last4": "4242",
                "network": "visa",
                "three_d_secure": None,
                "wallet": None,
            },
        }
    return {"type": method, method: {"bank_name": "STRIPE TEST BANK", "last4": "6789"}}


def charge(intent: Obj, *, method: str, status: str, email: str | None) -> Obj:
    """A charge of a PaymentIntent: succeeded, pending (delayed methods) or failed."""
    charge_id = new_id("ch" if method == "card" else "py")  # Stripe's ids for bank debits
    succeeded = status == "succeeded"
    return {
        "id": charge_id,
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"] if succeeded else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,  # booked after charge.succeeded (charge.updated)
        "billing_details": {
            "address": dict(NULL_ADDRESS),
            "email": email,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        "calculated_statement_descriptor": "STRIPE EMULATOR",
        "captured": succeeded,
        "created": now(),
        "currency": intent["currency"],
        "customer": None,
        "description": intent["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(intent["metadata"]),
        "on_behalf_of": None,
        "outcome": {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "paid": succeeded,
        "payment_intent": intent["id"],
        "payment_method": new_id("pm"),
        "payment_method_details": payment_method_details(method),
        "receipt_email": email,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "refunds": list_object(f"/v1/charges/{charge_id}/refunds", []),
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }


def refund(
    charge_obj: Obj,
    amount: int,
    reason: str | None,
    metadata: dict[str, str],
    status: str = "succeeded",
) -> Obj:
    """A refund of (part of) a charge: succeeded, or pending until the bank answers."""
    method = charge_obj["payment_method_details"]["type"]
    return {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn"),
        "charge": charge_obj["id"],
        "created": now(),
        "currency": charge_obj["currency"],
        "customer": None,
        "customer_account": None,
        "destination_details": {"type": method, method: {"type": "refund"}},
        "metadata": metadata,
        "payment_intent": charge_obj["payment_intent"],
        "payment_method": charge_obj["payment_method"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
    }


def customer_details(session: Obj) -> Obj:
    """The customer_details Checkout records once the customer has paid."""
    email = session.get("customer_email") or "customer@example.com"
    return {
        "address": {
            "city": None,
            "country": "US",
            "line1": None,
            "line2": None,
            "postal_code": "94103",
            "state": None,
        },
        "email": email,
        "name": "Emulated Customer",
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
        "business_name": None,
        "individual_name": None,
    }
