"""Beats orders: one row per checkout session with cart items (a new table, nothing else changes).

Backward compatible: code of revision 0001 never reads the table, so a rolling deploy may run the
old worker beside the new schema.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = False, now: bool = False) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.text("now()") if now else None,
    )


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("session_id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(200), nullable=False, index=True),
        sa.Column("user_email", sa.String(320), nullable=False),
        sa.Column("cart_item_ids", postgresql.JSONB, nullable=False),
        sa.Column("items", postgresql.JSONB, nullable=True),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("review_reason", sa.String(100)),
        sa.Column("payment_intent_id", sa.String(255), index=True),
        sa.Column("paid_amount", sa.BigInteger),
        sa.Column("paid_currency", sa.String(3)),
        _ts("paid_at", nullable=True),
        _ts("confirmed_at", nullable=True),
        _ts("created_at", now=True),
        _ts("updated_at", now=True),
        sa.CheckConstraint(
            "status IN ('open', 'confirmed', 'needs_review')", name="orders_status_known"
        ),
        sa.CheckConstraint("total >= 0", name="orders_total_not_negative"),
        # A confirmed order always knows what it sold and when it was confirmed.
        sa.CheckConstraint(
            "status <> 'confirmed' OR (items IS NOT NULL AND confirmed_at IS NOT NULL)",
            name="orders_confirmed_complete",
        ),
    )


def downgrade() -> None:
    op.drop_table("orders")
