"""Refunds: one row per refund we decided or Stripe told us of; refunded amounts on reservations
and orders; orders may end `refunded`.

Backward compatible: new table and nullable columns only (the orders status check is widened),
so code of revision 0002 keeps working beside the new schema during a rolling deploy.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
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
        "refunds",
        # Our Stripe idempotency key for a refund we decided; "stripe:<re_...>" for one Stripe
        # told us of (made in the Dashboard, by support, ...); "lookup:<ch_...>:<amount>" for a
        # charge.refunded that named no refund, whose refunds the executor looks up.
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("origin", sa.String(10), nullable=False),
        sa.Column("stripe_refund_id", sa.String(255), unique=True),
        sa.Column("payment_intent_id", sa.String(255), nullable=False, index=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("reason", sa.String(100), nullable=False),
        sa.Column("reservation_id", sa.String(36), sa.ForeignKey("reservations.id"), index=True),
        sa.Column("order_id", sa.String(255)),
        sa.Column("session_id", sa.String(255)),
        sa.Column("charge_id", sa.String(255)),
        sa.Column("correlation_id", sa.String(255)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        _ts("next_attempt_at", now=True),
        sa.Column("last_error", sa.Text),
        # When its effect (reservation or order changed, fact published) was applied.
        _ts("applied_at", nullable=True),
        _ts("created_at", now=True),
        _ts("updated_at", now=True),
        sa.CheckConstraint("origin IN ('ours', 'stripe', 'lookup')", name="refunds_origin_known"),
        sa.CheckConstraint("amount >= 0", name="refunds_amount_not_negative"),
    )
    op.create_index(
        "refunds_due",
        "refunds",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'requested'"),
    )
    op.add_column("reservations", sa.Column("refunded_amount", sa.BigInteger))
    op.add_column("orders", sa.Column("refunded_amount", sa.BigInteger))
    op.add_column("orders", sa.Column("refund_id", sa.String(255)))
    op.add_column("orders", _ts("refunded_at", nullable=True))
    op.drop_constraint("orders_status_known", "orders", type_="check")
    op.create_check_constraint(
        "orders_status_known",
        "orders",
        "status IN ('open', 'confirmed', 'needs_review', 'refunded')",
    )


def downgrade() -> None:
    op.drop_constraint("orders_status_known", "orders", type_="check")
    op.create_check_constraint(
        "orders_status_known", "orders", "status IN ('open', 'confirmed', 'needs_review')"
    )
    op.drop_column("orders", "refunded_at")
    op.drop_column("orders", "refund_id")
    op.drop_column("orders", "refunded_amount")
    op.drop_column("reservations", "refunded_amount")
    op.drop_index("refunds_due", table_name="refunds")
    op.drop_table("refunds")
