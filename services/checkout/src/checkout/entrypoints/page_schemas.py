"""Bodies of the routes the payment page uses besides checkout itself (camelCase)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from checkout.domain.model import Beat, Order
from checkout.entrypoints.schemas import Email

_CAMEL = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class BeatView(BaseModel):
    """A beat on sale."""

    model_config = _CAMEL

    id: str = Field(description="The cart item id to send to create-checkout-session.")
    title: str
    price: int = Field(description="Minor units.")
    currency: str

    @classmethod
    def of(cls, beat: Beat) -> BeatView:
        """From the domain object."""
        return cls(id=beat.id, title=beat.title, price=beat.price, currency=beat.currency)


class QuoteLine(BaseModel):
    """One line of the order as the server prices it."""

    model_config = _CAMEL

    item_id: str
    kind: Literal["reservation", "beat"]
    name: str
    amount: int = Field(description="Minor units.")
    currency: str


class CheckoutQuote(BaseModel):
    """What create-checkout-session would charge for the same ids, right now."""

    model_config = _CAMEL

    lines: list[QuoteLine]
    services_total: int
    cart_total: int
    order_total: int
    currency: str
    hold_expires_at: datetime | None = Field(
        description="When the first reservation hold lapses (None for beats only)."
    )

    @classmethod
    def of(cls, order: Order) -> CheckoutQuote:
        """From a priced order."""
        reservation_ids = set(order.reservation_ids)
        return cls(
            lines=[
                QuoteLine(
                    item_id=item.item_id,
                    kind="reservation" if item.item_id in reservation_ids else "beat",
                    name=item.name,
                    amount=item.unit_amount,
                    currency=item.currency,
                )
                for item in order.line_items
            ],
            services_total=order.services_total,
            cart_total=order.cart_total,
            order_total=order.order_total,
            currency=order.currency,
            hold_expires_at=order.hold_ends_at,
        )


class BookSlot(BaseModel):
    """Hold a studio slot (forwarded to the reservation API, which prices it)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    service_id: str = Field(min_length=1, max_length=100, description="A catalog service id.")
    starts_at: AwareDatetime = Field(description="Slot start, ISO 8601 with an offset.")
    email: Email | None = Field(default=None, description="If the token has no e-mail.")


class PageConfig(BaseModel):
    """What the page needs to know about this deployment (nothing secret)."""

    model_config = _CAMEL

    environment: str
    dev_sign_in: bool = Field(description="Show the paste-a-development-token sign-in.")
    clerk_publishable_key: str | None = Field(
        description="Clerk's publishable key: the page signs in with Clerk's frontend SDK."
    )
    clerk_js_url: str | None = Field(description="Where Clerk's browser bundle is loaded from.")
