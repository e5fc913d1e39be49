"""Builders of Stripe-shaped objects (checkout.session, payment_intent, charge, refund, event)."""

from __future__ import annotations

from typing import Any

from stripe_emulator.ids import new_id, now

Obj = dict[str, Any]

NULL_ADDRESS: Obj = {
    "city": None,
    "country": None,
    "line1": None,
    "line2": None,
    "postal_code": None,
    "state": None,
}


def list_object(url: str, data: list[Obj], has_more: bool = False) -> Obj:
    """Stripe's list envelope."""
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def price(currency: str, unit_amount: int, product_name: str, created: int) -> Obj:
    """An inline price made from price_data."""
    return {
        "id": new_id("price"),
        "object": "price",
        "active": False,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": new_id("prod", 14),
        "recurring": None,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
        # not Stripe's: kept so the hosted page can show a name without a product object
        "_product_name": product_name,
    }


def line_item(item_price: Obj, quantity: int) -> Obj:
    """A Checkout line item (object "item")."""
    amount = int(item_price["unit_amount"]) * quantity
    return {
        "id": new_id("li"),
        "object": "item",
        "adjustable_quantity": None,
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
        "amount_total": amount,
        "currency": item_price["currency"],
        "description": item_price["_product_name"],
        "metadata": {},
        "price": {k: v for k, v in item_price.items() if not k.startswith("_")},
        "quantity": quantity,
    }


def checkout_session(
    *,
    session_id: str,
    url: str,
    currency: str,
    amount: int,
    expires_at: int,
    fields: Obj,
) -> Obj:
    """A fresh, open Checkout Session in payment mode."""
    session: Obj = {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": amount,
        "amount_total": amount,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": None,
        "client_reference_id": None,
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": now(),
        "currency": currency,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": None,
        "customer_account": None,
        "customer_creation": "if_required",
        "customer_details": None,
        "customer_email": None,
        "discounts": [],
        "expires_at": expires_at,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": {
            "enabled": False,
            "invoice_data": {
                "account_tax_ids": None,
                "custom_fields": None,
                "description": None,
                "footer": None,
                "issuer": None,
                "metadata": {},
                "rendering_options": None,
            },
        },
        "livemode": False,
        "locale": None,
        "managed_payments": None,
        "metadata": {},
        "mode": "payment",
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": None,
        "subscription": None,
        "success_url": None,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": url,
        "wallet_options": None,
    }
    session.update(fields)
    return session


def event(
    event_type: str,
    data_object: Obj,
    *,
    api_version: str,
    request_id: str | None,
    idempotency_key: str | None,
    pending_webhooks: int,
    previous_attributes: Obj | None = None,
) -> Obj:
    """A v1 (snapshot) event carrying a copy of the object as it is now."""
    data: Obj = {"object": data_object}
    if previous_attributes:
        data["previous_attributes"] = previous_attributes
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": api_version,
        "created": now(),
        "data": data,
        "livemode": False,
        "pending_webhooks": pending_webhooks,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": event_type,
    }
