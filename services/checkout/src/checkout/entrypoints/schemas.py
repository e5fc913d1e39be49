"""Request and response bodies of the checkout API (camelCase, as the seed's frontend)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from checkout.adapters.tables import CheckoutSessionRow

_MAX_IDS = 20
# The reservation ids travel comma-joined in one Stripe metadata value, which holds at most 500
# characters: 13 UUIDs (36 each) and their commas fit, 14 do not (Stripe would refuse: a 500).
_MAX_RESERVATIONS = 13


class CreateCheckoutSession(BaseModel):
    """What to pay for, by id only: any amount or price the client sends is ignored."""

    # Unknown fields (a stale frontend's `amount`, `price`...) are ignored, never trusted.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    reservation_ids: list[str] = Field(
        default_factory=list,
        max_length=_MAX_RESERVATIONS,
        description="The caller's pending reservations (at most 13 per session).",
    )
    cart_item_ids: list[str] = Field(
        default_factory=list, max_length=_MAX_IDS, description="Beat ids of the caller's cart."
    )
    email: str | None = Field(
        default=None,
        min_length=3,
        max_length=320,
        description="Receipt e-mail, used only if the token carries no e-mail claim.",
    )


class CheckoutSessionCreated(BaseModel):
    """Where to send the browser."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    session_id: str = Field(description="The Stripe Checkout Session id.")
    url: str = Field(description="The Stripe-hosted payment page.")


class CheckoutSessionView(BaseModel):
    """A session as its owner sees it (the success page)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    session_id: str
    url: str
    status: str = Field(description="Stripe's status: open, complete or expired.")
    payment_status: str = Field(description="Stripe's payment status: unpaid, paid...")
    type: str = Field(description="reservation_payment, mixed_cart or beats_only.")
    reservation_ids: list[str]
    cart_item_ids: list[str]
    services_total: int = Field(description="Minor units.")
    cart_total: int = Field(description="Minor units.")
    order_total: int = Field(description="Minor units.")
    currency: str
    expires_at: AwareDatetime
    created_at: AwareDatetime

    @classmethod
    def of(cls, row: CheckoutSessionRow) -> CheckoutSessionView:
        """From a recorded session."""
        return cls(
            session_id=row.session_id,
            url=row.url,
            status=row.status,
            payment_status=row.payment_status,
            type=row.checkout_type,
            reservation_ids=list(row.reservation_ids),
            cart_item_ids=list(row.cart_item_ids),
            services_total=row.services_total,
            cart_total=row.cart_total,
            order_total=row.order_total,
            currency=row.currency,
            expires_at=row.expires_at,
            created_at=row.created_at,
        )
