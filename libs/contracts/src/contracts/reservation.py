"""The seed's ReservationPaymentUpdate and the reservation facts published on reservation.events."""

from __future__ import annotations

from typing import Annotated, Final, Literal, Self
from uuid import UUID

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from contracts.base import Contract, Currency, MinorUnits, NonEmptyStr, Timestamp

PaymentStatus = Literal["pending", "processing", "succeeded", "failed"]

RESERVATION_CONFIRMED_V1: Final = "reservation.confirmed.v1"
RESERVATION_PAYMENT_FAILED_V1: Final = "reservation.payment_failed.v1"
RESERVATION_EXPIRED_V1: Final = "reservation.expired.v1"
RESERVATION_REFUNDED_V1: Final = "reservation.refunded.v1"
RESERVATION_FLAGGED_FOR_REVIEW_V1: Final = "reservation.flagged_for_review.v1"
ORDER_CONFIRMED_V1: Final = "order.confirmed.v1"
PAYMENT_DISPUTED_V1: Final = "payment.disputed.v1"
PAYMENT_DISPUTE_CLOSED_V1: Final = "payment.dispute_closed.v1"
ORDER_REFUNDED_V1: Final = "order.refunded.v1"

# Known refund reasons; the field stays a plain string so a new reason never breaks old readers.
REFUND_REASON_LATE_PAYMENT_SLOT_TAKEN: Final = "late_payment_slot_taken"
REFUND_REASON_CHARGE_REFUNDED: Final = "charge_refunded"
REFUND_REASON_DUPLICATE_PAYMENT: Final = "duplicate_payment"


class ReservationPaymentUpdate(Contract):
    """The seed's payment update of one reservation, under the seed's camelCase keys."""

    model_config = ConfigDict(alias_generator=to_camel)

    reservation_id: NonEmptyStr = Field(description="The reservation whose payment changed.")
    payment_status: PaymentStatus = Field(description="pending, processing, succeeded or failed.")
    stripe_session_id: str | None = Field(default=None, description="The Checkout Session id.")
    stripe_payment_intent_id: str | None = Field(
        default=None, description="The PaymentIntent id, once Stripe created one."
    )
    paid_amount: MinorUnits | None = Field(default=None, description="Paid, in minor units.")
    paid_currency: Currency | None = Field(default=None, description="Lower-case ISO 4217 code.")
    paid_at: Timestamp | None = Field(default=None, description="When Stripe confirmed payment.")


class FactBase(Contract):
    """What every fact on reservation.events carries."""

    event_id: UUID = Field(
        description=(
            "The fact's id, fixed when the outbox row is written; the notifier sends at most one"
            " e-mail per id, so a republished fact must keep it."
        )
    )
    occurred_at: Timestamp = Field(description="When the state change committed.")
    correlation_id: str | None = Field(
        default=None, description="The id that follows one payment across services and logs."
    )
    user_id: NonEmptyStr = Field(description="The user the fact concerns.")
    user_email: NonEmptyStr = Field(description="Where the user's e-mail goes.")

    def partition_key(self) -> str:
        """The Kafka key on reservation.events: the reservation id (the order id for orders)."""
        raise NotImplementedError


class ReservationFactBase(FactBase):
    """A fact about one reservation, with what any e-mail about it shows."""

    reservation_id: NonEmptyStr = Field(description="The reservation the fact is about.")
    service_name: NonEmptyStr = Field(description="The booked studio service, e.g. 'Mixing'.")
    starts_at: Timestamp = Field(description="Start of the booked slot.")
    ends_at: Timestamp = Field(description="End of the booked slot.")

    @model_validator(mode="after")
    def _slot_is_ordered(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def partition_key(self) -> str:
        """The reservation id, so one reservation's facts stay in order."""
        return self.reservation_id


class ReservationConfirmedV1(ReservationFactBase):
    """The reservation is paid (Stripe said so) and its slot is the user's."""

    event_type: Literal["reservation.confirmed.v1"] = Field(
        default=RESERVATION_CONFIRMED_V1, description="The discriminator of this fact."
    )
    amount_paid: MinorUnits = Field(description="What the user paid, in minor units.")
    currency: Currency = Field(description="Lower-case ISO 4217 code.")
    reference: NonEmptyStr = Field(description="The booking reference shown to the user.")
    session_id: NonEmptyStr = Field(description="The Stripe Checkout Session that paid it.")
    payment_intent_id: str | None = Field(
        default=None, description="The Stripe PaymentIntent, for support look-ups."
    )
    paid_at: Timestamp | None = Field(default=None, description="When Stripe confirmed payment.")


class ReservationPaymentFailedV1(ReservationFactBase):
    """A payment attempt failed; the user may retry while the hold lasts."""

    event_type: Literal["reservation.payment_failed.v1"] = Field(
        default=RESERVATION_PAYMENT_FAILED_V1, description="The discriminator of this fact."
    )
    reason: NonEmptyStr = Field(description="Why it failed, fit to show the user.")
    session_id: str | None = Field(default=None, description="The failed Checkout Session.")
    retry_url: str | None = Field(default=None, description="Where the user can pay again.")
    hold_expires_at: Timestamp | None = Field(
        default=None, description="Until when the slot stays held for a retry."
    )


class ReservationExpiredV1(ReservationFactBase):
    """The hold ran out unpaid; the slot is free again."""

    event_type: Literal["reservation.expired.v1"] = Field(
        default=RESERVATION_EXPIRED_V1, description="The discriminator of this fact."
    )
    session_id: str | None = Field(
        default=None, description="The last Checkout Session, if one was opened."
    )


class ReservationRefundedV1(ReservationFactBase):
    """Money went back to the user: a late payment for a taken slot, a second payment of a booked
    reservation, or a refund made in Stripe (full: the slot is released; partial: it stands)."""

    event_type: Literal["reservation.refunded.v1"] = Field(
        default=RESERVATION_REFUNDED_V1, description="The discriminator of this fact."
    )
    amount_refunded: MinorUnits = Field(description="This refund's amount, in minor units.")
    currency: Currency = Field(description="Lower-case ISO 4217 code.")
    refund_id: NonEmptyStr = Field(description="Stripe's refund id (re_...), for the Dashboard.")
    reason: NonEmptyStr = Field(
        description=(
            "Why: 'late_payment_slot_taken', 'duplicate_payment' (the booking stands, an extra"
            " payment went back), 'charge_refunded' (made in Stripe), or a newer reason."
        )
    )
    session_id: str | None = Field(default=None, description="The Checkout Session refunded.")
    payment_intent_id: str | None = Field(default=None, description="The PaymentIntent refunded.")
    partial: bool = Field(
        default=False,
        description="True when part of the payment was refunded and the booking stands.",
    )
    refunded_total: MinorUnits | None = Field(
        default=None, description="All refunded of this payment so far, this refund included."
    )


class ReservationFlaggedForReviewV1(ReservationFactBase):
    """Stripe's paid amount or currency differs from our price: an operator must look."""

    event_type: Literal["reservation.flagged_for_review.v1"] = Field(
        default=RESERVATION_FLAGGED_FOR_REVIEW_V1, description="The discriminator of this fact."
    )
    reason: NonEmptyStr = Field(description="What disagreed, e.g. 'amount_mismatch'.")
    expected_amount: MinorUnits = Field(description="Our recorded price, in minor units.")
    expected_currency: Currency = Field(description="Our recorded currency.")
    paid_amount: MinorUnits = Field(description="What Stripe reports paid, in minor units.")
    paid_currency: Currency = Field(description="The currency Stripe reports.")
    session_id: NonEmptyStr = Field(description="The Checkout Session concerned.")
    payment_intent_id: str | None = Field(default=None, description="The PaymentIntent concerned.")


class OrderItemV1(Contract):
    """One beat bought in an order."""

    item_id: NonEmptyStr = Field(description="The cart item (beat) id.")
    title: NonEmptyStr = Field(description="The beat's title, as sold.")
    price: MinorUnits = Field(description="Its price, in minor units.")


class OrderConfirmedV1(FactBase):
    """A beats order (beats_only, or the cart part of a mixed cart) is paid."""

    event_type: Literal["order.confirmed.v1"] = Field(
        default=ORDER_CONFIRMED_V1, description="The discriminator of this fact."
    )
    order_id: NonEmptyStr = Field(description="The order id (the Checkout Session id if no other).")
    session_id: NonEmptyStr = Field(description="The Stripe Checkout Session that paid it.")
    payment_intent_id: str | None = Field(default=None, description="The Stripe PaymentIntent.")
    items: list[OrderItemV1] = Field(min_length=1, description="What was bought.")
    total: MinorUnits = Field(description="The sum of the items' prices, in minor units.")
    currency: Currency = Field(description="Lower-case ISO 4217 code.")

    @model_validator(mode="after")
    def _total_adds_up(self) -> Self:
        if self.total != sum(item.price for item in self.items):
            raise ValueError("total must equal the sum of the items' prices")
        return self

    def partition_key(self) -> str:
        """The order id: beats-only facts have no reservation."""
        return self.order_id


class _DisputeFactBase(FactBase):
    """What both dispute facts carry; the user is the payer of the disputed payment."""

    dispute_id: NonEmptyStr = Field(description="Stripe's dispute id (du_...).")
    payment_intent_id: str | None = Field(default=None, description="The disputed PaymentIntent.")
    charge_id: str | None = Field(default=None, description="The disputed Charge.")
    amount: MinorUnits = Field(description="Disputed, in minor units.")
    currency: Currency = Field(description="Lower-case ISO 4217 code.")
    reason: str | None = Field(
        default=None, description="Stripe's reason, e.g. 'fraudulent', 'product_not_received'."
    )
    stripe_status: NonEmptyStr = Field(description="The dispute's status at Stripe.")
    reservation_ids: list[str] = Field(
        default_factory=list, description="The reservations the payment paid for."
    )
    order_id: str | None = Field(
        default=None, description="The beats order the payment paid for, if any."
    )

    def partition_key(self) -> str:
        """The dispute id, so a dispute's opening and closing stay in order."""
        return self.dispute_id


class PaymentDisputedV1(_DisputeFactBase):
    """The payer disputed a payment at their bank: its reservations and order are `disputed`
    (the booking stands meanwhile) and an operator must answer at Stripe before the deadline."""

    event_type: Literal["payment.disputed.v1"] = Field(
        default=PAYMENT_DISPUTED_V1, description="The discriminator of this fact."
    )
    evidence_due_by: Timestamp | None = Field(
        default=None, description="When Stripe must have the evidence."
    )


class PaymentDisputeClosedV1(_DisputeFactBase):
    """A dispute was decided: `won` (the booking stands) or `lost` (the money went back to the
    payer and the reservations are `dispute_lost`, their slots free)."""

    event_type: Literal["payment.dispute_closed.v1"] = Field(
        default=PAYMENT_DISPUTE_CLOSED_V1, description="The discriminator of this fact."
    )
    outcome: Literal["won", "lost"] = Field(description="How the dispute ended for us.")


class OrderRefundedV1(FactBase):
    """Money for a beats order went back to the user (all of it, or part: `partial`)."""

    event_type: Literal["order.refunded.v1"] = Field(
        default=ORDER_REFUNDED_V1, description="The discriminator of this fact."
    )
    order_id: NonEmptyStr = Field(description="The order id (the Checkout Session id if no other).")
    session_id: NonEmptyStr = Field(description="The Stripe Checkout Session that paid it.")
    payment_intent_id: str | None = Field(default=None, description="The PaymentIntent refunded.")
    amount_refunded: MinorUnits = Field(description="This refund's amount, in minor units.")
    currency: Currency = Field(description="Lower-case ISO 4217 code.")
    refund_id: NonEmptyStr = Field(description="Stripe's refund id (re_...), for the Dashboard.")
    reason: NonEmptyStr = Field(description="Why, e.g. 'charge_refunded' (made in Stripe).")
    partial: bool = Field(
        default=False, description="True when part was refunded and the order stands."
    )

    def partition_key(self) -> str:
        """The order id, as for OrderConfirmedV1, so an order's facts stay in order."""
        return self.order_id


ReservationFact = Annotated[
    ReservationConfirmedV1
    | ReservationPaymentFailedV1
    | ReservationExpiredV1
    | ReservationRefundedV1
    | ReservationFlaggedForReviewV1
    | OrderConfirmedV1
    | PaymentDisputedV1
    | PaymentDisputeClosedV1
    | OrderRefundedV1,
    Field(discriminator="event_type"),
]

FACT_TYPES: Final[dict[str, type[FactBase]]] = {
    RESERVATION_CONFIRMED_V1: ReservationConfirmedV1,
    RESERVATION_PAYMENT_FAILED_V1: ReservationPaymentFailedV1,
    RESERVATION_EXPIRED_V1: ReservationExpiredV1,
    RESERVATION_REFUNDED_V1: ReservationRefundedV1,
    RESERVATION_FLAGGED_FOR_REVIEW_V1: ReservationFlaggedForReviewV1,
    ORDER_CONFIRMED_V1: OrderConfirmedV1,
    PAYMENT_DISPUTED_V1: PaymentDisputedV1,
    PAYMENT_DISPUTE_CLOSED_V1: PaymentDisputeClosedV1,
    ORDER_REFUNDED_V1: OrderRefundedV1,
}

FACT_ADAPTER: Final[TypeAdapter[ReservationFact]] = TypeAdapter(ReservationFact)


class UnknownFactTypeError(ValueError):
    """A fact whose event_type this reader does not know, e.g. a newer version published beside."""

    def __init__(self, event_type: str) -> None:
        self.event_type = event_type
        known = ", ".join(sorted(FACT_TYPES))
        super().__init__(f"unknown reservation fact event_type {event_type!r}; known: {known}")


def parse_fact(data: bytes | str) -> ReservationFact:
    """Decode one reservation.events value into its fact model.

    Raises UnknownFactTypeError (a ValueError) for an event_type this reader does not know, so a
    consumer can choose to skip it, and pydantic's ValidationError for anything else malformed.
    """
    try:
        return FACT_ADAPTER.validate_json(data)
    except ValidationError as exc:
        for error in exc.errors():
            if error["type"] == "union_tag_invalid":
                raise UnknownFactTypeError(str(error.get("ctx", {}).get("tag"))) from exc
        raise
