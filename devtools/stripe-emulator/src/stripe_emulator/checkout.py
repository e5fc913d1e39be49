"""Creating a Checkout Session from the API's parameters, checked as Stripe checks them."""

from __future__ import annotations

from stripe_emulator.errors import StripeError
from stripe_emulator.ids import new_session_id, now
from stripe_emulator.objects import Obj, checkout_session, line_item, price
from stripe_emulator.params import (
    Params,
    get_dict,
    get_int,
    get_list,
    get_str,
    missing_param,
    reject_unknown,
    require_str,
    validate_metadata,
)
from stripe_emulator.settings import EmulatorSettings

# Real Stripe parameters: the modelled ones act, the others are accepted and ignored.
SESSION_PARAMS = frozenset(
    {
        "mode",
        "line_items",
        "client_reference_id",
        "metadata",
        "success_url",
        "cancel_url",
        "expires_at",
        "customer_email",
        "payment_method_types",
        "expand",
        "payment_intent_data",
        "locale",
        "submit_type",
        "customer",
        "customer_creation",
        "billing_address_collection",
        "allow_promotion_codes",
        "ui_mode",
        "return_url",
        "currency",
        "automatic_tax",
        "phone_number_collection",
        "consent_collection",
        "custom_text",
        "invoice_creation",
        "payment_method_options",
        "shipping_address_collection",
        "tax_id_collection",
    }
)
_PRICE_DATA = frozenset(
    {"currency", "unit_amount", "unit_amount_decimal", "product_data", "product", "tax_behavior"}
)
# Stripe's minimum charge amounts, in the currency's smallest unit.
_MINIMUM_AMOUNT = {"usd": 50, "eur": 50, "cad": 50, "aud": 50, "chf": 50, "gbp": 30, "jpy": 50}
_LIFETIME_MAX = 24 * 3600


def _line_items(params: Params, created: int) -> list[Obj]:
    raw = get_list(params, "line_items")
    if not raw:
        raise StripeError(
            "`line_items` is required in `payment` mode.",
            param="line_items",
            code="parameter_missing",
        )
    items: list[Obj] = []
    for index, entry in enumerate(raw):
        where = f"line_items[{index}]"
        if not isinstance(entry, dict):
            raise StripeError(f"Invalid object: {where} must be a hash.", param=where)
        if "price" in entry:
            raise StripeError(
                f"No such price: '{entry['price']}'",
                param=f"{where}[price]",
                status=404,
                code="resource_missing",
            )
        data = get_dict(entry, "price_data", param=f"{where}[price_data]")
        if not data:
            raise StripeError(
                f"You must specify either `price` or `price_data` in {where}.",
                param=where,
                code="parameter_missing",
            )
        reject_unknown(data, _PRICE_DATA)
        currency = require_str(data, "currency", param=f"{where}[price_data][currency]")
        amount_param = f"{where}[price_data][unit_amount]"
        unit_amount = get_int(data, "unit_amount", param=amount_param)
        if unit_amount is None:
            raise missing_param(amount_param)
        if unit_amount < 0:
            raise StripeError(
                "This value must be greater than or equal to 0.",
                param=amount_param,
                code="parameter_invalid_integer",
            )
        product = get_dict(data, "product_data", param=f"{where}[price_data][product_data]")
        name = require_str(product, "name", param=f"{where}[price_data][product_data][name]")
        quantity = get_int(entry, "quantity", param=f"{where}[quantity]")
        if quantity is None:
            raise StripeError(
                f"Quantity is required. Add `quantity` to `{where}`.",
                param=f"{where}[quantity]",
                code="parameter_missing",
            )
        if quantity < 1:
            raise StripeError(
                "This value must be greater than or equal to 1.",
                param=f"{where}[quantity]",
                code="parameter_invalid_integer",
            )
        items.append(line_item(price(currency.lower(), unit_amount, name, created), quantity))
    currencies = {item["currency"] for item in items}
    if len(currencies) > 1:
        raise StripeError(
            "Checkout does not support multiple currencies in one session.", param="line_items"
        )
    return items


def _expires_at(params: Params, created: int, settings: EmulatorSettings) -> int:
    expires_at = get_int(params, "expires_at")
    if expires_at is None:
        return created + settings.default_session_lifetime
    if expires_at - created > _LIFETIME_MAX:
        raise StripeError(
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
            param="expires_at",
        )
    if expires_at - created < settings.min_session_lifetime:
        raise StripeError(
            f"The `expires_at` timestamp must be at least {settings.min_session_lifetime // 60} "
            "minutes from Checkout Session creation.",
            param="expires_at",
        )
    return expires_at


def build_session(params: Params, settings: EmulatorSettings) -> tuple[Obj, list[Obj]]:
    """Check the parameters and make an open session and its line items."""
    reject_unknown(params, SESSION_PARAMS)
    mode = require_str(params, "mode")
    if mode != "payment":
        raise StripeError(f"This emulator supports only mode=payment, not {mode!r}.", param="mode")
    if get_str(params, "ui_mode") not in (None, "hosted"):
        raise StripeError("This emulator supports only ui_mode=hosted.", param="ui_mode")
    created = now()
    items = _line_items(params, created)
    currency = items[0]["currency"]
    amount = sum(int(item["amount_total"]) for item in items)
    minimum = _MINIMUM_AMOUNT.get(currency, 0)
    if amount < minimum:
        raise StripeError(
            f"The Checkout Session's total amount due must add up to at least {minimum} "
            f"(smallest unit of {currency}).",
            param="line_items",
            code="amount_too_small",
        )
    reference = get_str(params, "client_reference_id")
    if reference is not None and len(reference) > 200:
        raise StripeError(
            "client_reference_id can be at most 200 characters.", param="client_reference_id"
        )
    email = get_str(params, "customer_email")
    if email is not None and "@" not in email:
        raise StripeError(
            f"Invalid email address: {email}", param="customer_email", code="email_invalid"
        )
    methods = [str(m) for m in get_list(params, "payment_method_types")] or ["card"]
    pi_data = get_dict(params, "payment_intent_data")
    session_id = new_session_id()
    fields: Obj = {
        "created": created,
        "client_reference_id": reference,
        "customer_email": email,
        "metadata": validate_metadata(get_dict(params, "metadata")),
        "success_url": get_str(params, "success_url"),
        "cancel_url": get_str(params, "cancel_url"),
        "payment_method_types": methods,
        "locale": get_str(params, "locale"),
        "submit_type": get_str(params, "submit_type"),
        # not Stripe's: what the PaymentIntent gets once the customer tries to pay
        "_payment_intent_data": {
            "metadata": validate_metadata(
                get_dict(pi_data, "metadata"), "payment_intent_data[metadata]"
            ),
            "description": get_str(pi_data, "description"),
        },
    }
    session = checkout_session(
        session_id=session_id,
        url=f"{settings.base_url}/c/pay/{session_id}",
        currency=currency,
        amount=amount,
        expires_at=_expires_at(params, created, settings),
        fields=fields,
    )
    return session, items
