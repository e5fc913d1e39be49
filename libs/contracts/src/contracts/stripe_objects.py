"""Tolerant views of the Stripe objects we read: session, intent, charge, refund, dispute."""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, field_validator

from contracts.base import Contract, NonEmptyStr
from contracts.stripe import StripeEvent, object_id


def _to_id(value: Any) -> Any:
    # Stripe sends a reference as an id, or as the whole object when the caller expanded it.
    return object_id(value) if isinstance(value, dict) else value


StripeRef = Annotated[str | None, BeforeValidator(_to_id)]


class _StripeObject(Contract):
    """Fields every Stripe object has."""

    id: NonEmptyStr = Field(description="The object's Stripe id.")
    livemode: bool = Field(default=False, description="False in test mode.")
    created: int | None = Field(default=None, description="Creation time, Unix seconds.")
    metadata: dict[str, str] = Field(
        default_factory=dict, description="Free string -> string metadata we set on creation."
    )

    @field_validator("metadata", mode="before")
    @classmethod
    def _null_metadata(cls, value: Any) -> Any:
        return {} if value is None else value

    @classmethod
    def from_event(cls, event: StripeEvent) -> Self:
        """Read the event's data.object as this kind of object."""
        return cls.model_validate(event.data_object)


class CustomerDetails(Contract):
    """What Checkout collected about the payer."""

    email: str | None = Field(default=None, description="The e-mail the payer entered.")
    name: str | None = Field(default=None, description="The payer's name.")


class CheckoutSessionObject(_StripeObject):
    """A Stripe Checkout Session (`object: checkout.session`)."""

    status: str | None = Field(default=None, description="open, complete or expired.")
    payment_status: str | None = Field(
        default=None, description="paid, unpaid (delayed methods) or no_payment_required."
    )
    mode: str | None = Field(default=None, description="payment, setup or subscription.")
    amount_total: int | None = Field(default=None, description="Total, in minor units.")
    amount_subtotal: int | None = Field(default=None, description="Before discounts and tax.")
    currency: str | None = Field(default=None, description="Lower-case ISO 4217 code.")
    payment_intent: StripeRef = Field(default=None, description="The PaymentIntent id, if any.")
    client_reference_id: str | None = Field(default=None, description="Our reference, if set.")
    customer_email: str | None = Field(default=None, description="E-mail passed at creation.")
    customer_details: CustomerDetails | None = Field(
        default=None, description="What the payer entered."
    )
    expires_at: int | None = Field(default=None, description="Expiry time, Unix seconds.")
    url: str | None = Field(default=None, description="The hosted page; null once complete.")


class PaymentError(Contract):
    """A PaymentIntent's last_payment_error."""

    type: str | None = Field(default=None, description="Stripe's error type.")
    code: str | None = Field(default=None, description="Stripe's error code, e.g. card_declined.")
    decline_code: str | None = Field(default=None, description="The issuer's decline code.")
    message: str | None = Field(default=None, description="A message fit to show the payer.")


class PaymentIntentObject(_StripeObject):
    """A Stripe PaymentIntent (`object: payment_intent`)."""

    amount: int = Field(description="Amount intended, in minor units.")
    amount_received: int | None = Field(default=None, description="Received, in minor units.")
    currency: str = Field(description="Lower-case ISO 4217 code.")
    status: str | None = Field(default=None, description="e.g. succeeded, requires_payment_method.")
    latest_charge: StripeRef = Field(default=None, description="The latest Charge id.")
    last_payment_error: PaymentError | None = Field(
        default=None, description="Why the last attempt failed."
    )


class ChargeObject(_StripeObject):
    """A Stripe Charge (`object: charge`)."""

    amount: int = Field(description="Charged, in minor units.")
    amount_captured: int | None = Field(default=None, description="Captured, in minor units.")
    amount_refunded: int = Field(default=0, description="Refunded so far, in minor units.")
    currency: str = Field(description="Lower-case ISO 4217 code.")
    paid: bool | None = Field(default=None, description="Whether the charge succeeded.")
    refunded: bool = Field(default=False, description="True once fully refunded.")
    payment_intent: StripeRef = Field(default=None, description="The PaymentIntent id, if any.")
    status: str | None = Field(default=None, description="succeeded, pending or failed.")


class DisputeEvidenceDetails(Contract):
    """A dispute's evidence_details (only what we show an operator)."""

    due_by: int | None = Field(default=None, description="Evidence deadline, Unix seconds.")


class DisputeObject(_StripeObject):
    """A Stripe Dispute (`object: dispute`), the data.object of charge.dispute.* events."""

    amount: int = Field(description="Disputed, in minor units.")
    currency: str = Field(description="Lower-case ISO 4217 code.")
    charge: StripeRef = Field(default=None, description="The disputed Charge id.")
    payment_intent: StripeRef = Field(default=None, description="The PaymentIntent id, if any.")
    reason: str | None = Field(default=None, description="e.g. fraudulent, product_not_received.")
    status: str = Field(
        description="warning_needs_response, warning_under_review, warning_closed,"
        " needs_response, under_review, won or lost."
    )
    evidence_details: DisputeEvidenceDetails | None = Field(
        default=None, description="When evidence is due."
    )


class ChargeRefunds(Contract):
    """A charge's `refunds` list (Stripe fills `data` only when the caller expanded it)."""

    data: list[dict[str, Any]] = Field(default_factory=list, description="Refund objects.")


class ChargeWithRefunds(ChargeObject):
    """A Charge and the refunds it lists, when expanded."""

    refunds: ChargeRefunds | None = Field(default=None, description="The charge's refunds.")


class RefundObject(_StripeObject):
    """A Stripe Refund (`object: refund`)."""

    amount: int = Field(description="Refunded, in minor units.")
    currency: str = Field(description="Lower-case ISO 4217 code.")
    status: str | None = Field(
        default=None,
        description="pending, requires_action, succeeded, failed or canceled.",
    )
    payment_intent: StripeRef = Field(default=None, description="The PaymentIntent refunded.")
    charge: StripeRef = Field(default=None, description="The Charge refunded.")
    reason: str | None = Field(default=None, description="duplicate, fraudulent, ... if given.")
    failure_reason: str | None = Field(default=None, description="Why it failed, if it did.")
