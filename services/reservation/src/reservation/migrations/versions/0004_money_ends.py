"""Disputes, and when an open Checkout Session really ends (overdue look-ups, the hold shown).

- `reservations.session_expires_at`: the open session's `expires_at` (the slot is held until
  then, whatever `hold_expires_at` says); the overdue look-up asks Stripe once it has passed.
- `disputes`: one row per Stripe dispute and how far it got (open < won | lost).
- `dispute_id` and `status_before_dispute` on reservations and orders; the statuses `disputed`
  (live: the booking stands while the dispute is open) and `dispute_lost` (not live).

The status check constraints and the no-overlap constraint's live set are read from the
database and extended, not rewritten from a list: another revision of the same release may
have added statuses of its own, and both must survive whichever order the revisions run in.

Backward compatible: older code never writes the new statuses or reads the new columns.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_RESERVATION_NEW = ("disputed", "dispute_lost")
_ORDER_NEW = ("disputed", "dispute_lost")


def _definition(name: str) -> str:
    found = op.get_bind().scalar(
        sa.text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :n"),
        {"n": name},
    )
    if found is None:
        raise RuntimeError(f"constraint {name} is missing")
    return str(found)


def _statuses(definition: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r"'([a-z_]+)'", definition)))


def _in_list(statuses: list[str]) -> str:
    return "(" + ", ".join(f"'{s}'" for s in statuses) + ")"


def _extend_check(table: str, name: str, add: tuple[str, ...], drop: tuple[str, ...] = ()) -> None:
    keep = [s for s in _statuses(_definition(name)) if s not in drop]
    statuses = keep + [s for s in add if s not in keep]
    op.drop_constraint(name, table, type_="check")
    op.create_check_constraint(name, table, f"status IN {_in_list(statuses)}")


def _set_live(add: tuple[str, ...], drop: tuple[str, ...] = ()) -> None:
    definition = _definition("reservations_no_overlap")
    where = definition[definition.index("WHERE") :]
    live = [s for s in _statuses(where) if s not in drop]
    live += [s for s in add if s not in live]
    op.execute("ALTER TABLE reservations DROP CONSTRAINT reservations_no_overlap")
    op.execute(
        "ALTER TABLE reservations ADD CONSTRAINT reservations_no_overlap EXCLUDE USING gist ("
        " resource WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&"
        f") WHERE (status IN {_in_list(live)})"
    )


def upgrade() -> None:
    op.add_column("reservations", sa.Column("session_expires_at", sa.DateTime(timezone=True)))
    for table in ("reservations", "orders"):
        op.add_column(table, sa.Column("dispute_id", sa.String(255)))
        op.add_column(table, sa.Column("status_before_dispute", sa.String(20)))
    _extend_check("reservations", "reservations_status_known", _RESERVATION_NEW)
    _extend_check("orders", "orders_status_known", _ORDER_NEW)
    _set_live(("disputed",))
    # The overdue look-up scans processing reservations by when their session ends.
    op.create_index(
        "reservations_overdue",
        "reservations",
        ["session_expires_at"],
        postgresql_where=sa.text("status = 'processing'"),
    )
    op.create_table(
        "disputes",
        sa.Column("dispute_id", sa.String(255), primary_key=True),
        sa.Column("charge_id", sa.String(255)),
        sa.Column("payment_intent_id", sa.String(255), index=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason", sa.String(100)),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("stripe_status", sa.String(40), nullable=False),
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
        sa.CheckConstraint("stage IN ('open', 'won', 'lost')", name="disputes_stage_known"),
    )


def downgrade() -> None:
    op.drop_table("disputes")
    op.drop_index("reservations_overdue", table_name="reservations")
    _set_live((), drop=("disputed",))
    _extend_check("orders", "orders_status_known", (), drop=_ORDER_NEW)
    _extend_check("reservations", "reservations_status_known", (), drop=_RESERVATION_NEW)
    for table in ("reservations", "orders"):
        op.drop_column(table, "status_before_dispute")
        op.drop_column(table, "dispute_id")
    op.drop_column("reservations", "session_expires_at")
