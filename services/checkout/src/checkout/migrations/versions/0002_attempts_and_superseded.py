"""Checkout attempts (the exact Stripe request per idempotency key) and superseded sessions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkout_attempts",
        sa.Column("idempotency_key", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("params", postgresql.JSONB, nullable=False),
        sa.Column("extends_hold", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("session_id", sa.String(255)),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
    )
    op.create_index(
        "checkout_attempts_items", "checkout_attempts", ["user_id", "fingerprint", "generation"]
    )
    op.add_column(
        "checkout_sessions",
        sa.Column("expire_pending", sa.Boolean, nullable=False, server_default=sa.text("false")),
    )
    op.add_column("checkout_sessions", sa.Column("superseded_by", sa.String(255)))
    op.create_index(
        "checkout_sessions_expire_pending",
        "checkout_sessions",
        ["session_id"],
        postgresql_where=sa.text("expire_pending"),
    )


def downgrade() -> None:
    op.drop_index("checkout_sessions_expire_pending", table_name="checkout_sessions")
    op.drop_column("checkout_sessions", "superseded_by")
    op.drop_column("checkout_sessions", "expire_pending")
    op.drop_index("checkout_attempts_items", table_name="checkout_attempts")
    op.drop_table("checkout_attempts")
