"""SQLModel tables of the checkout database (the outbox comes from backbone)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from backbone.db import OutboxEntry, timestamp, utc_now

__all__ = ["BeatRow", "CheckoutAttemptRow", "CheckoutSessionRow", "OutboxEntry"]


class BeatRow(SQLModel, table=True):
    """A beat of the catalog this service sells; prices in minor units."""

    __tablename__ = "beats"

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    price: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    active: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=text("true"))
    )


class CheckoutSessionRow(SQLModel, table=True):
    """A Checkout Session Stripe created for a user, with what it sells at which price."""

    __tablename__ = "checkout_sessions"
    __table_args__ = (
        Index("checkout_sessions_items", "user_id", "fingerprint", "created_at"),
        # The sweep's worklist: superseded sessions still to be expired at Stripe.
        Index(
            "checkout_sessions_expire_pending",
            "session_id",
            postgresql_where=text("expire_pending"),
        ),
    )

    session_id: str = Field(sa_column=Column(String(255), primary_key=True))
    user_id: str = Field(sa_column=Column(String(200), nullable=False))
    user_email: str = Field(sa_column=Column(String(320), nullable=False))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    generation: int = Field(sa_column=Column(Integer, nullable=False))
    idempotency_key: str = Field(sa_column=Column(String(255), nullable=False))
    checkout_type: str = Field(sa_column=Column(String(32), nullable=False))
    reservation_ids: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    cart_item_ids: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    services_total: int = Field(sa_column=Column(BigInteger, nullable=False))
    cart_total: int = Field(sa_column=Column(BigInteger, nullable=False))
    order_total: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    url: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    payment_status: str = Field(sa_column=Column(String(32), nullable=False))
    expires_at: datetime = Field(sa_column=timestamp())
    extends_hold: bool = Field(sa_column=Column(Boolean, nullable=False))
    request_id: str | None = Field(default=None, sa_column=Column(String(128)))
    # Set when a newer session for the same reservations was recorded: this one is to be expired
    # at Stripe (after the commit, retried until Stripe answers) so it cannot be paid as well.
    expire_pending: bool = Field(
        default=False,
        sa_column=Column(Boolean, nullable=False, server_default=text("false")),
    )
    superseded_by: str | None = Field(default=None, sa_column=Column(String(255)))
    created_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))
    updated_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))


class CheckoutAttemptRow(SQLModel, table=True):
    """One Stripe create request, stored before it is sent: a retry resends exactly it.

    `state`: pending (sent or about to be; the answer may have been lost), created (its session
    is recorded), burned (Stripe stored an error answer under the key, or the key cannot be
    reused), refused (Stripe refused the parameters), ended (its session had already ended).
    """

    __tablename__ = "checkout_attempts"
    __table_args__ = (Index("checkout_attempts_items", "user_id", "fingerprint", "generation"),)

    idempotency_key: str = Field(sa_column=Column(String(255), primary_key=True))
    user_id: str = Field(sa_column=Column(String(200), nullable=False))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    generation: int = Field(sa_column=Column(Integer, nullable=False))
    params: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    extends_hold: bool = Field(sa_column=Column(Boolean, nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    session_id: str | None = Field(default=None, sa_column=Column(String(255)))
    created_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))
    updated_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))
