"""The notifications table: one row per fact, the claim that makes sending at most once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Integer, String, Text, text
from sqlmodel import Field, SQLModel

from backbone.db import timestamp, utc_now


class NotificationRow(SQLModel, table=True):
    """The e-mail about one fact: claimed (`sending`) before the send, `sent` or `failed` after."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("status IN ('sending', 'sent', 'failed')", name="notifications_status"),
    )

    event_id: str = Field(sa_column=Column(String(64), primary_key=True))
    event_type: str = Field(sa_column=Column(String(100), nullable=False))
    template: str = Field(sa_column=Column(String(100), nullable=False))
    recipient: str = Field(sa_column=Column(String(320), nullable=False))
    subject: str = Field(sa_column=Column(Text, nullable=False))
    message_id: str = Field(sa_column=Column(String(255), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    attempts: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default=text("0"))
    )
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))
    updated_at: datetime = Field(default_factory=utc_now, sa_column=timestamp(default_now=True))
    sent_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
