"""What checkout tells Stripe and Kafka of a session: seed metadata, CheckoutSessionCreatedV1."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal, Self
from uuid import UUID

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from contracts.base import Contract, Currency, MinorUnits, NonEmptyStr, Timestamp
from contracts.reservation import OrderItemV1

CHECKOUT_SESSION_CREATED_V1: Final = "checkout.session.created.v1"

CheckoutType = Literal["reservation_payment", "mixed_cart", "beats_only"]

# Stripe's documented limit for one metadata value; a longer value is refused by the API.
STRIPE_METADATA_VALUE_MAX: Final = 500


def _split_ids(value: Any) -> Any:
    # Stripe metadata is string -> string, so id lists travel comma-joined.
    if isinstance(value, str):
        return [part for part in (p.strip() for p in value.split(",")) if part]
    return value


def _digits_to_int(value: Any) -> Any:
    # Stripe metadata carries numbers as strings; only plain digits are accepted, never "12.50".
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def _truncate_description(value: Any) -> Any:
    if isinstance(value, str) and len(value) > STRIPE_METADATA_VALUE_MAX:
        return value[: STRIPE_METADATA_VALUE_MAX - 1] + "…"
    return value


IdList = Annotated[
    list[NonEmptyStr],
    BeforeValidator(_split_ids),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": {"type": "string", "minLength": 1}},
                {"type": "string", "description": "comma-separated ids, as in Stripe metadata"},
            ]
        }
    ),
]

MetadataCount = Annotated[
    int,
    BeforeValidator(_digits_to_int),
    Strict(),
    Field(ge=0),
    WithJsonSchema(
        {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^[0-9]+$"}]}
    ),
]


def _check_ids_match_type(
    checkout_type: CheckoutType, reservation_ids: list[str], cart_item_ids: list[str]
) -> None:
    wants_reservations = checkout_type in ("reservation_payment", "mixed_cart")
    wants_cart = checkout_type in ("beats_only", "mixed_cart")
    if wants_reservations != bool(reservation_ids):
        raise ValueError(f"type {checkout_type!r} and reservation ids {reservation_ids!r} disagree")
    if wants_cart != bool(cart_item_ids):
        raise ValueError(f"type {checkout_type!r} and cart item ids {cart_item_ids!r} disagree")


class ReservationCheckoutMetadata(Contract):
    """The seed's metadata of a Stripe Checkout Session, under the seed's camelCase keys.

    All totals are integer minor units (cents); on Stripe they are strings of digits, as Stripe
    metadata only holds strings. Use `to_stripe_metadata` / `from_stripe_metadata` at the boundary.
    """

    model_config = ConfigDict(alias_generator=to_camel)

    user_id: NonEmptyStr = Field(description="Our user id (the Clerk subject) who pays.")
    user_email: NonEmptyStr = Field(description="Where the confirmation e-mail goes.")
    checkout_type: CheckoutType = Field(
        alias="type", description="What the session pays for: reservations, beats, or both."
    )
    reservation_ids: IdList = Field(
        default_factory=list, description="Reservations this session pays (comma-joined on Stripe)."
    )
    cart_item_ids: IdList = Field(
        default_factory=list,
        description="Beat cart items this session pays (comma-joined on Stripe).",
    )
    services_count: MetadataCount = Field(description="How many reservations are paid.")
    services_total: MetadataCount = Field(description="Reservations total, in minor units.")
    cart_count: MetadataCount = Field(description="How many cart items are paid.")
    cart_total: MetadataCount = Field(description="Cart total, in minor units.")
    order_total: MetadataCount = Field(description="services_total + cart_total, in minor units.")
    description: Annotated[str, BeforeValidator(_truncate_description)] = Field(
        default="",
        max_length=STRIPE_METADATA_VALUE_MAX,
        description="Human-readable summary, cut to Stripe's 500-character limit.",
    )

    @field_validator("reservation_ids", "cart_item_ids")
    @classmethod
    def _fits_in_stripe(cls, ids: list[str]) -> list[str]:
        # Truncating an id list would silently drop a payment, so an over-long list is refused.
        if any("," in i for i in ids):
            raise ValueError("ids must not contain commas: they are comma-joined on Stripe")
        if len(",".join(ids)) > STRIPE_METADATA_VALUE_MAX:
            raise ValueError(f"ids joined exceed Stripe's {STRIPE_METADATA_VALUE_MAX} characters")
        return ids

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_ids_match_type(self.checkout_type, self.reservation_ids, self.cart_item_ids)
        if self.order_total != self.services_total + self.cart_total:
            raise ValueError("orderTotal must equal servicesTotal + cartTotal")
        return self

    def to_stripe_metadata(self) -> dict[str, str]:
        """The string -> string dict to pass as `metadata` when creating the Checkout Session."""
        out: dict[str, str] = {}
        for name, value in self.model_dump(by_alias=True).items():
            text = ",".join(value) if isinstance(value, list) else str(value)
            # Stripe treats an empty value as "unset this key", so empties are left out.
            if text:
                out[name] = text
        return out

    @classmethod
    def from_stripe_metadata(cls, metadata: Mapping[str, str]) -> ReservationCheckoutMetadata:
        """Read the metadata back from a Checkout Session (keys we do not know are ignored)."""
        return cls.model_validate(dict(metadata))


class CheckoutSessionCreatedV1(Contract):
    """Published on checkout.sessions once Stripe created a session for server-priced items."""

    event_id: UUID = Field(description="This fact's id; consumers deduplicate on it.")
    event_type: Literal["checkout.session.created.v1"] = Field(
        default=CHECKOUT_SESSION_CREATED_V1, description="The discriminator of this fact."
    )
    occurred_at: Timestamp = Field(
        description="When Stripe created the session (its `created`, whole seconds): the order"
        " of a reservation's sessions, the same whichever source tells of them."
    )
    correlation_id: str | None = Field(
        default=None,
        description=(
            "The id that follows one payment across services and logs: the session id (the"
            " request id that led here travels in the request-id header)."
        ),
    )
    session_id: NonEmptyStr = Field(description="The Stripe Checkout Session id (cs_...).")
    user_id: NonEmptyStr = Field(description="Our user id who pays.")
    user_email: NonEmptyStr = Field(description="The payer's e-mail address.")
    checkout_type: CheckoutType = Field(
        description="reservation_payment, mixed_cart or beats_only."
    )
    reservation_ids: list[NonEmptyStr] = Field(
        default_factory=list, description="Reservations this session pays."
    )
    cart_item_ids: list[NonEmptyStr] = Field(
        default_factory=list, description="Beat cart items this session pays."
    )
    cart_items: list[OrderItemV1] = Field(
        default_factory=list,
        description=(
            "The beats of cart_item_ids as checkout sold them: title and server-side price, so"
            " the order confirmation needs nothing but this fact. Empty from producers older"
            " than the field; when given, it lists exactly cart_item_ids and adds up to"
            " cart_total."
        ),
    )
    services_total: MinorUnits = Field(description="Reservations total, in minor units.")
    cart_total: MinorUnits = Field(description="Cart total, in minor units.")
    order_total: MinorUnits = Field(description="What the user is asked to pay, in minor units.")
    currency: Currency = Field(description="Lower-case ISO 4217 code, as Stripe spells it.")
    expires_at: Timestamp = Field(description="When Stripe expires the session if unpaid.")
    url: NonEmptyStr = Field(description="The Stripe-hosted payment page to redirect to.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_ids_match_type(self.checkout_type, self.reservation_ids, self.cart_item_ids)
        if self.order_total != self.services_total + self.cart_total:
            raise ValueError("order_total must equal services_total + cart_total")
        if self.cart_items:
            if sorted(i.item_id for i in self.cart_items) != sorted(self.cart_item_ids):
                raise ValueError("cart_items must list exactly the cart_item_ids")
            if sum(i.price for i in self.cart_items) != self.cart_total:
                raise ValueError("cart_items prices must add up to cart_total")
        return self
