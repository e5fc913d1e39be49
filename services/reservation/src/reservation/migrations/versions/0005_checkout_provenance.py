"""What checkout said it created, and Stripe payments waiting for it (issue 17).

`checkout_session_facts`: one row per CheckoutSessionCreatedV1 the worker read (the amount and
currency checkout asked Stripe for, and the reservations it covers); a payment is confirmed only
when it matches one. `unverified_payments`: a paid signal whose session checkout has not (yet)
told us about, kept until the fact arrives or the grace period runs out (then flagged).

New tables only: code of earlier revisions never reads them. The lead re-chains down_revision at
merge (0003 and 0004 are other branches' files).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkout_session_facts",
        sa.Column("session_id", sa.String(255), primary_key=True),
        sa.Column("amount_total", sa.BigInteger, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("reservation_ids", postgresql.JSONB, nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
    )
    op.create_table(
        "unverified_payments",
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("session_id", sa.String(255), nullable=False, index=True),
        sa.Column("signal", postgresql.JSONB, nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("unverified_payments")
    op.drop_table("checkout_session_facts")
