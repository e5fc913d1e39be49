"""Catalog, reservations with the no-overlap exclusion constraint, attempts, inbox and outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_LIVE = "('pending', 'processing', 'succeeded', 'failed', 'needs_review')"
_ALL = (
    "('pending', 'processing', 'succeeded', 'failed', 'expired', 'refunded', 'cancelled',"
    " 'needs_review')"
)


def _ts(name: str, *, nullable: bool = False, now: bool = False) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.text("now()") if now else None,
    )


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "studio_services",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("duration_minutes", sa.Integer, nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.CheckConstraint("duration_minutes > 0", name="studio_services_duration_positive"),
        sa.CheckConstraint("price >= 0", name="studio_services_price_not_negative"),
    )
    op.create_table(
        "reservations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("reference", sa.String(16), nullable=False, unique=True),
        sa.Column("user_id", sa.String(200), nullable=False, index=True),
        sa.Column("user_email", sa.String(320), nullable=False),
        sa.Column("service_id", sa.String(64), sa.ForeignKey("studio_services.id"), nullable=False),
        sa.Column("service_name", sa.String(200), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        _ts("starts_at"),
        _ts("ends_at"),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        _ts("hold_expires_at"),
        _ts("created_at", now=True),
        _ts("updated_at", now=True),
        sa.Column("current_session_id", sa.String(255)),
        sa.Column("paid_session_id", sa.String(255)),
        sa.Column("payment_intent_id", sa.String(255), index=True),
        sa.Column("paid_amount", sa.BigInteger),
        sa.Column("paid_currency", sa.String(3)),
        _ts("paid_at", nullable=True),
        sa.Column("refund_id", sa.String(255)),
        _ts("refunded_at", nullable=True),
        sa.Column("review_reason", sa.String(100)),
        sa.CheckConstraint("ends_at > starts_at", name="reservations_slot_ordered"),
        sa.CheckConstraint(f"status IN {_ALL}", name="reservations_status_known"),
    )
    # Two live reservations never share a moment of one resource: the database decides, so
    # concurrent bookings cannot both win whatever the application does.
    op.execute(
        "ALTER TABLE reservations ADD CONSTRAINT reservations_no_overlap EXCLUDE USING gist ("
        " resource WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&"
        f") WHERE (status IN {_LIVE})"
    )
    op.create_index(
        "reservations_sweep",
        "reservations",
        ["hold_expires_at"],
        postgresql_where=sa.text("status IN ('pending', 'failed')"),
    )
    op.create_table(
        "payment_attempts",
        sa.Column(
            "reservation_id", sa.String(36), sa.ForeignKey("reservations.id"), primary_key=True
        ),
        sa.Column("session_id", sa.String(255), primary_key=True),
        _ts("session_created"),
        sa.Column("stage", sa.String(20), nullable=False),
        _ts("updated_at", now=True),
    )
    op.create_index("payment_attempts_session", "payment_attempts", ["session_id"])
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(200), primary_key=True),
        sa.Column("event_id", sa.String(200), primary_key=True),
        _ts("processed_at", now=True),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("topic", sa.String(249), nullable=False),
        sa.Column("key", sa.LargeBinary, nullable=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("headers", postgresql.JSONB, nullable=False, server_default="[]"),
        _ts("created_at", now=True),
        _ts("sent_at", nullable=True),
    )
    op.create_index("outbox_unsent", "outbox", ["id"], postgresql_where=sa.text("sent_at IS NULL"))


def downgrade() -> None:
    for table in ("outbox", "inbox", "payment_attempts", "reservations", "studio_services"):
        op.drop_table(table)
