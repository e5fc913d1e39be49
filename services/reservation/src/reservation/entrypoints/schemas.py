"""Request and response bodies of the reservation API."""

from __future__ import annotations

import re

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from contracts.reservation import ReservationPaymentUpdate
from reservation.domain.model import StudioService, held_until
from reservation.service_layer.ports import ReservationRecord

MAX_EMAIL_LENGTH = 320  # RFC 5321's path limit, and the column's width
# One address: no spaces or control characters (a CR/LF would inject mail headers), one @.
_EMAIL = re.compile(r"[^\s@\x00-\x1f\x7f]+@[^\s@\x00-\x1f\x7f]+")


def email_problem(value: str) -> str | None:
    """Why `value` is no address confirmations can go to, or None."""
    if len(value) > MAX_EMAIL_LENGTH:
        return f"an e-mail address has at most {MAX_EMAIL_LENGTH} characters"
    if not _EMAIL.fullmatch(value):
        return "not an e-mail address (one @, no spaces or control characters)"
    return None


class BookRequest(BaseModel):
    """Book a studio service on a slot starting at `starts_at`; the price is ours to set."""

    model_config = ConfigDict(extra="forbid")

    service_id: str = Field(min_length=1, description="A catalog service id, e.g. 'mixing'.")
    starts_at: AwareDatetime = Field(description="Slot start, ISO 8601 with an offset.")
    email: str | None = Field(
        default=None,
        min_length=3,
        max_length=MAX_EMAIL_LENGTH,
        description="Where confirmations go, if the token carries no e-mail claim "
        "(development only: in production the token's e-mail claim is used).",
    )

    @field_validator("email")
    @classmethod
    def _one_address(cls, value: str | None) -> str | None:
        problem = None if value is None else email_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class PayableRequest(BaseModel):
    """Reservations checkout is about to charge for."""

    model_config = ConfigDict(extra="forbid")

    reservation_ids: list[str] = Field(min_length=1, max_length=20, description="Ids to check.")


class ServiceView(BaseModel):
    """A catalog entry."""

    id: str
    name: str
    duration_minutes: int
    price: int = Field(description="Minor units (cents).")
    currency: str
    resource: str

    @classmethod
    def of(cls, service: StudioService) -> ServiceView:
        """From the domain object."""
        return cls(**service.__dict__)


class ReservationView(BaseModel):
    """A reservation as its owner sees it."""

    id: str
    reference: str
    service_id: str
    service_name: str
    resource: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    amount: int = Field(description="Our price, minor units.")
    currency: str
    status: str = Field(
        description="pending, processing, succeeded, failed, expired, refunded, cancelled, "
        "needs_review, disputed or dispute_lost."
    )
    hold_expires_at: AwareDatetime = Field(
        description=(
            "Until when the slot is held unpaid: the hold, or, while a Stripe page is open, when"
            " that page closes if later (the slot is kept for it)."
        )
    )
    created_at: AwareDatetime
    payment: ReservationPaymentUpdate | None = Field(
        default=None, description="The seed's payment update (camelCase), once paid."
    )
    refund_id: str | None = Field(
        default=None, description="Stripe's refund id (re_...) once money went back."
    )
    refunded_amount: int | None = Field(
        default=None, description="Refunded of its payment so far, minor units (partial or all)."
    )

    @classmethod
    def of(cls, row: ReservationRecord) -> ReservationView:
        """From a row."""
        payment = None
        if row.paid_session_id:
            payment = ReservationPaymentUpdate(
                reservation_id=row.id,
                payment_status="succeeded",
                stripe_session_id=row.paid_session_id,
                stripe_payment_intent_id=row.payment_intent_id,
                paid_amount=row.paid_amount,
                paid_currency=row.paid_currency,
                paid_at=row.paid_at,
            )
        return cls(
            id=row.id,
            reference=row.reference,
            service_id=row.service_id,
            service_name=row.service_name,
            resource=row.resource,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            amount=row.amount,
            currency=row.currency,
            status=row.status,
            hold_expires_at=held_until(row.status, row.hold_expires_at, row.session_expires_at),
            created_at=row.created_at,
            payment=payment,
            refund_id=row.refund_id,
            refunded_amount=row.refunded_amount,
        )


class PayableView(BaseModel):
    """What checkout may charge: every reservation, their total, and the earliest hold expiry."""

    reservations: list[ReservationView]
    total: int = Field(description="Sum of the reservations' prices, minor units.")
    currency: str
    hold_expires_at: AwareDatetime = Field(description="The earliest hold expiry among them.")
