"""Refund rules: statuses, what counts as money on its way back, full or partial, retry pacing."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum


class RefundStatus(StrEnum):
    """Where a refund stands: ours start `requested`; the rest are Stripe's own statuses, and
    `refused` is a request Stripe turned down for good (already refunded, disputed, invalid)."""

    REQUESTED = "requested"
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    REFUSED = "refused"


# Money on its way back or back: what Stripe's charge.amount_refunded counts too.
COUNTED: frozenset[RefundStatus] = frozenset(
    {RefundStatus.PENDING, RefundStatus.REQUIRES_ACTION, RefundStatus.SUCCEEDED}
)
# The money did not go back: an operator must act.
UNDONE: frozenset[RefundStatus] = frozenset(
    {RefundStatus.FAILED, RefundStatus.CANCELED, RefundStatus.REFUSED}
)


_RANK = {
    RefundStatus.REQUESTED: 0,
    RefundStatus.PENDING: 1,
    RefundStatus.REQUIRES_ACTION: 1,
    RefundStatus.SUCCEEDED: 2,
    RefundStatus.FAILED: 2,
    RefundStatus.CANCELED: 2,
    RefundStatus.REFUSED: 2,
}


def moves(current: RefundStatus, new: RefundStatus) -> bool:
    """Whether `new` moves a refund forward: a late `pending` never undoes `succeeded`."""
    return _RANK[new] > _RANK[current]


def stripe_status(value: str | None) -> RefundStatus:
    """Stripe's refund status as ours; an unknown one is treated as pending (not done, not lost)."""
    try:
        status = RefundStatus(value or "pending")
    except ValueError:
        return RefundStatus.PENDING
    return RefundStatus.PENDING if status is RefundStatus.REQUESTED else status


@dataclass(frozen=True)
class RefundShare:
    """What one refund does to a payment: `full` once the payment is refunded in total."""

    amount: int
    refunded_total: int
    full: bool


def share(amount: int, refunded_before: int, paid_total: int) -> RefundShare:
    """The effect of refunding `amount` of a payment of `paid_total` already refunded by
    `refunded_before`."""
    total = refunded_before + amount
    return RefundShare(amount, total, total >= paid_total)


def retry_delay(attempts: int, initial_s: float, max_s: float) -> float:
    """Capped exponential backoff with jitter (50-100%) before attempt `attempts + 1`."""
    ceiling = min(max_s, initial_s * 2.0 ** max(attempts - 1, 0))
    return ceiling * (0.5 + random.random() / 2)  # noqa: S311 - pacing, not security


def refund_key(reservation_id: str, session_id: str) -> str:
    """The Stripe idempotency key of our refund of `reservation_id`'s payment by `session_id`."""
    # The shape the worker used before refunds left its transaction: a refund it created is
    # replayed by Stripe under the same key, never made twice.
    return f"reservation-refund:{reservation_id}:{session_id}"
