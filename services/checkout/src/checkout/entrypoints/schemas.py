"""Request and response bodies of the checkout API (camelCase, as the seed's frontend)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from checkout.domain.sessions import CheckoutSession

_MAX_IDS = 20

# Ids are plain tokens: no commas (Stripe metadata joins them with commas), no path characters
# (they end up in URLs), no control characters, and short. Anything else is a 422 naming the
# field, never a 500 further down.
ItemId = Annotated[
    str,
    # Blank entries are allowed and dropped (an empty order is refused as such).
    StringConstraints(strip_whitespace=True, max_length=64, pattern=r"^[A-Za-z0-9_-]*$"),
]
# One address, no whitespace or control characters (a CR/LF would reach Stripe and the e-mails).
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=320, pattern=r"^[^\s@]+@[^\s@]+$"
    ),
]


class CreateCheckoutSession(BaseModel):
    """What to pay for, by id only: any amount or price the client sends is ignored."""

    # Unknown fields (a stale frontend's `amount`, `price`...) are ignored, never trusted.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    reservation_ids: list[ItemId] = Field(
        default_factory=list, max_length=_MAX_IDS, description="The caller's pending reservations."
    )
    cart_item_ids: list[ItemId] = Field(
        default_factory=list, max_length=_MAX_IDS, description="Beat ids of the caller's cart."
    )
    email: Email | None = Field(
        default=None,
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
    def of(cls, row: CheckoutSession) -> CheckoutSessionView:
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
