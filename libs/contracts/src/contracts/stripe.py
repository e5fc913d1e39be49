"""A tolerant model of the Stripe event on stripe.events, the event types we act on, its key."""

from __future__ import annotations

from typing import Any, Final

from pydantic import Field

from contracts.base import Contract, NonEmptyStr

# The Stripe API version our calls pin (Stripe-Version) and our event readers are written for.
# Objects in events are rendered in the endpoint's version, so a webhook endpoint must be set to
# it too; webhook-ingest counts events of any other version.
STRIPE_API_VERSION: Final = "2026-10-28.endive"

CHECKOUT_SESSION_COMPLETED: Final = "checkout.session.completed"
CHECKOUT_SESSION_ASYNC_PAYMENT_SUCCEEDED: Final = "checkout.session.async_payment_succeeded"
CHECKOUT_SESSION_ASYNC_PAYMENT_FAILED: Final = "checkout.session.async_payment_failed"
CHECKOUT_SESSION_EXPIRED: Final = "checkout.session.expired"
PAYMENT_INTENT_PAYMENT_FAILED: Final = "payment_intent.payment_failed"
CHARGE_REFUNDED: Final = "charge.refunded"
CHARGE_DISPUTE_CREATED: Final = "charge.dispute.created"
CHARGE_DISPUTE_CLOSED: Final = "charge.dispute.closed"
# A refund's own lifecycle (its object is a refund, re_...): created, then pending -> succeeded,
# failed or canceled; charge.refund.updated is the older name some payment methods still send.
REFUND_CREATED: Final = "refund.created"
REFUND_UPDATED: Final = "refund.updated"
REFUND_FAILED: Final = "refund.failed"
CHARGE_REFUND_UPDATED: Final = "charge.refund.updated"
REFUND_EVENT_TYPES: Final = frozenset(
    {REFUND_CREATED, REFUND_UPDATED, REFUND_FAILED, CHARGE_REFUND_UPDATED}
)

HANDLED_EVENT_TYPES: Final = frozenset(
    {
        CHECKOUT_SESSION_COMPLETED,
        CHECKOUT_SESSION_ASYNC_PAYMENT_SUCCEEDED,
        CHECKOUT_SESSION_ASYNC_PAYMENT_FAILED,
        CHECKOUT_SESSION_EXPIRED,
        PAYMENT_INTENT_PAYMENT_FAILED,
        CHARGE_REFUNDED,
        CHARGE_DISPUTE_CREATED,
        CHARGE_DISPUTE_CLOSED,
        *REFUND_EVENT_TYPES,
    }
)

CHECKOUT_SESSION_PREFIX: Final = "checkout.session."
PAYMENT_INTENT_PREFIX: Final = "payment_intent."
CHARGE_PREFIX: Final = "charge."
REFUND_PREFIX: Final = "refund."


class StripeEventData(Contract):
    """The `data` member of a Stripe event."""

    object: dict[str, Any] = Field(
        description="The Stripe object the event is about, as Stripe sent it (see stripe_objects)."
    )
    previous_attributes: dict[str, Any] | None = Field(
        default=None, description="For *.updated events, the changed attributes' old values."
    )


class StripeEvent(Contract):
    """A Stripe event as posted to our webhook (only the fields we rely on; the rest is ignored).

    Unversioned on purpose: Stripe owns this shape and versions it by `api_version`.
    """

    id: NonEmptyStr = Field(description="Stripe's event id (evt_...), unique per event.")
    type: NonEmptyStr = Field(description="The event type, e.g. 'checkout.session.completed'.")
    api_version: str | None = Field(
        default=None, description="The Stripe API version the object was rendered with."
    )
    created: int = Field(description="When Stripe created the event, in Unix seconds.")
    livemode: bool = Field(description="False for test-mode events.")
    data: StripeEventData = Field(description="The object the event is about.")

    @property
    def data_object(self) -> dict[str, Any]:
        """The Stripe object the event is about."""
        return self.data.object

    @property
    def handled(self) -> bool:
        """Whether we act on this event type; others are acknowledged and ignored."""
        return self.type in HANDLED_EVENT_TYPES


def parse_stripe_event(data: bytes | str) -> StripeEvent:
    """Decode a stripe.events value (the exact bytes Stripe posted) into its envelope."""
    return StripeEvent.model_validate_json(data)


def object_id(value: Any) -> str | None:
    """The id of a reference that Stripe sends either as an id string or as an expanded object."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict):
        inner = value.get("id")
        if isinstance(inner, str) and inner:
            return inner
    return None


def event_key(event: StripeEvent) -> str:
    """The Kafka key of a Stripe event on stripe.events, so related events share a partition.

    checkout.session.*: the session id; payment_intent.*: the payment intent id; charge.* and
    refund.*: the payment intent if there is one (a payment's refunds travel with its charge
    events), else the object's id; anything else: data.object.id. The event id is the last
    resort, for an object without an id.
    """
    obj = event.data_object
    own_id = object_id(obj)
    if event.type.startswith((CHARGE_PREFIX, REFUND_PREFIX)):
        own_id = object_id(obj.get("payment_intent")) or own_id
    return own_id or event.id
