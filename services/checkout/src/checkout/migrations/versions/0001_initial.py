"""Beats catalog, recorded checkout sessions, and the outbox.

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


def _ts(name: str, *, nullable: bool = False, now: bool = False) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.text("now()") if now else None,
    )


def upgrade() -> None:
    op.create_table(
        "beats",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.CheckConstraint("price >= 0", name="beats_price_not_negative"),
    )
    op.create_table(
        "checkout_sessions",
        sa.Column("session_id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("user_email", sa.String(320), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("checkout_type", sa.String(32), nullable=False),
        sa.Column("reservation_ids", postgresql.JSONB, nullable=False),
        sa.Column("cart_item_ids", postgresql.JSONB, nullable=False),
        sa.Column("services_total", sa.BigInteger, nullable=False),
        sa.Column("cart_total", sa.BigInteger, nullable=False),
        sa.Column("order_total", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("payment_status", sa.String(32), nullable=False),
        _ts("expires_at"),
        sa.Column("extends_hold", sa.Boolean, nullable=False),
        sa.Column("request_id", sa.String(128)),
        _ts("created_at", now=True),
        _ts("updated_at", now=True),
    )
    op.create_index(
        "checkout_sessions_items",
        "checkout_sessions",
        ["user_id", "fingerprint", "created_at"],
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(249), nullable=False),
        sa.Column("key", sa.LargeBinary),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column(
            "headers", postgresql.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")
        ),
        _ts("created_at", now=True),
        _ts("sent_at", nullable=True),
    )
    op.create_index("outbox_unsent", "outbox", ["id"], postgresql_where=sa.text("sent_at IS NULL"))


def downgrade() -> None:
    op.drop_index("outbox_unsent", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("checkout_sessions_items", table_name="checkout_sessions")
    op.drop_table("checkout_sessions")
    op.drop_table("beats")
