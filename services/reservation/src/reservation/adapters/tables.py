"""SQLModel tables of the reservation database (the inbox and outbox come from backbone)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from backbone.db import InboxEntry, OutboxEntry, timestamp, utc_now

__all__ = [
    "DisputeRow",
    "InboxEntry",
    "OrderRow",
    "OutboxEntry",
    "PaymentAttemptRow",
    "RefundRow",
    "ReservationRow",
    "StudioServiceRow",
]


class StudioServiceRow(SQLModel, table=True):
    """A bookable studio service of the catalog."""

    __tablename__ = "studio_services"

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    duration_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    price: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    resource: str = Field(sa_column=Column(String(64), nullable=False))
    active: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=text("true"))
    )


class ReservationRow(SQLModel, table=True):
    """One reservation: the slot, its price, its status and, once paid, the payment."""

    __tablename__ = "reservations"

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    reference: str = Field(sa_column=Column(String(16), nullable=False, unique=True))
    user_id: str = Field(sa_column=Column(String(200), nullable=False, index=True))
    user_email: str = Field(sa_column=Column(String(320), nullable=False))
    service_id: str = Field(
        sa_column=Column(String(64), ForeignKey("studio_services.id"), nullable=False)
    )
    service_name: str = Field(sa_column=Column(String(200), nullable=False))
    resource: str = Field(sa_column=Column(String(64), nullable=False))
    starts_at: datetime = Field(sa_column=timestamp())
    ends_at: datetime = Field(sa_column=timestamp())
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    status: str = Field(sa_column=Column(String(20), nullable=False, index=True))
    hold_expires_at: datetime = Field(sa_column=timestamp())
    created_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))
    updated_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))
    current_session_id: str | None = Field(default=None, sa_column=Column(String(255)))
    paid_session_id: str | None = Field(default=None, sa_column=Column(String(255)))
    payment_intent_id: str | None = Field(default=None, sa_column=Column(String(255), index=True))
    paid_amount: int | None = Field(default=None, sa_column=Column(BigInteger))
    paid_currency: str | None = Field(default=None, sa_column=Column(String(3)))
    paid_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    refund_id: str | None = Field(default=None, sa_column=Column(String(255)))
    refunded_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    review_reason: str | None = Field(default=None, sa_column=Column(String(100)))
    # The open Checkout Session's expires_at: the slot is held until then (migration 0004).
    session_expires_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    dispute_id: str | None = Field(default=None, sa_column=Column(String(255)))
    status_before_dispute: str | None = Field(default=None, sa_column=Column(String(20)))
    # Refunded of its payment so far (a partial refund leaves the booking standing).
    refunded_amount: int | None = Field(default=None, sa_column=Column(BigInteger))


class PaymentAttemptRow(SQLModel, table=True):
    """How far one checkout session got in paying one reservation."""

    __tablename__ = "payment_attempts"

    reservation_id: str = Field(
        sa_column=Column(String(36), ForeignKey("reservations.id"), primary_key=True)
    )
    session_id: str = Field(sa_column=Column(String(255), primary_key=True))
    session_created: datetime = Field(sa_column=timestamp())
    stage: str = Field(sa_column=Column(String(20), nullable=False))
    updated_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))


class OrderRow(SQLModel, table=True):
    """The beats of one checkout session: what was sold, what Stripe says was paid, the outcome."""

    __tablename__ = "orders"

    session_id: str = Field(sa_column=Column(String(255), primary_key=True))
    user_id: str = Field(sa_column=Column(String(200), nullable=False, index=True))
    user_email: str = Field(sa_column=Column(String(320), nullable=False))
    cart_item_ids: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    # [{"item_id", "title", "price"}], None until checkout's fact said what was sold.
    items: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSONB))
    total: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    status: str = Field(sa_column=Column(String(20), nullable=False, index=True))
    review_reason: str | None = Field(default=None, sa_column=Column(String(100)))
    payment_intent_id: str | None = Field(default=None, sa_column=Column(String(255), index=True))
    paid_amount: int | None = Field(default=None, sa_column=Column(BigInteger))
    paid_currency: str | None = Field(default=None, sa_column=Column(String(3)))
    paid_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    confirmed_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    dispute_id: str | None = Field(default=None, sa_column=Column(String(255)))
    status_before_dispute: str | None = Field(default=None, sa_column=Column(String(20)))
    refunded_amount: int | None = Field(default=None, sa_column=Column(BigInteger))
    refund_id: str | None = Field(default=None, sa_column=Column(String(255)))
    refunded_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    created_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))
    updated_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))


class DisputeRow(SQLModel, table=True):
    """One Stripe dispute of a payment and how far it got (open < won | lost)."""

    __tablename__ = "disputes"

    dispute_id: str = Field(sa_column=Column(String(255), primary_key=True))
    charge_id: str | None = Field(default=None, sa_column=Column(String(255)))
    payment_intent_id: str | None = Field(default=None, sa_column=Column(String(255), index=True))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(String(100)))
    stage: str = Field(sa_column=Column(String(20), nullable=False))
    stripe_status: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))
    updated_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))


class RefundRow(SQLModel, table=True):
    """One refund: decided by us (carried out after commit by the refund executor), or made in
    Stripe and told by its events; applied to its reservation or order once, with its fact."""

    __tablename__ = "refunds"

    key: str = Field(sa_column=Column(String(255), primary_key=True))
    origin: str = Field(sa_column=Column(String(10), nullable=False))  # ours | stripe | lookup
    stripe_refund_id: str | None = Field(default=None, sa_column=Column(String(255), unique=True))
    payment_intent_id: str = Field(sa_column=Column(String(255), nullable=False, index=True))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    status: str = Field(sa_column=Column(String(20), nullable=False, index=True))
    reason: str = Field(sa_column=Column(String(100), nullable=False))
    reservation_id: str | None = Field(default=None, sa_column=Column(String(36)))
    order_id: str | None = Field(default=None, sa_column=Column(String(255)))
    session_id: str | None = Field(default=None, sa_column=Column(String(255)))
    charge_id: str | None = Field(default=None, sa_column=Column(String(255)))
    correlation_id: str | None = Field(default=None, sa_column=Column(String(255)))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime = Field(default_factory=utc_now, sa_column=timestamp())
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    applied_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    created_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))
    updated_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))
