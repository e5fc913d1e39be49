"""Payment attempts and the decision each Stripe or checkout signal leads to, order-independent.

Every checkout session is one attempt at paying a reservation. An attempt only moves forward
(open < awaiting < paid | failed | expired), so a duplicate or an earlier-stage event arriving late
is a no-op; among attempts, the newest session (by creation time, then id) speaks for the
reservation, so an old session's late event never overrides a newer one; and money always counts:
a payment is confirmed, flagged, or refunded, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from reservation.domain.model import Status


class Stage(StrEnum):
    """How far one checkout session got."""

    OPEN = "open"
    AWAITING = "awaiting"  # completed with a delayed method: money not there yet
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"


_RANK = {Stage.OPEN: 0, Stage.AWAITING: 1, Stage.PAID: 2, Stage.FAILED: 2, Stage.EXPIRED: 2}


def advances(known: Stage | None, new: Stage) -> bool:
    """Whether `new` moves an attempt known at `known` forward (terminal stages never move)."""
    return known is None or _RANK[new] > _RANK[known]


@dataclass(frozen=True)
class Attempt:
    """One session's attempt at paying one reservation."""

    session_id: str
    created: datetime
    stage: Stage

    @property
    def order_key(self) -> tuple[datetime, str]:
        """Newer attempts sort later; the id breaks ties of sessions made in the same second."""
        return (self.created, self.session_id)


class Action(StrEnum):
    """What the service layer does to the reservation."""

    NOTHING = "nothing"
    PROCESS = "process"  # processing, this session current
    CONFIRM = "confirm"  # succeeded with this payment
    FLAG = "flag"  # paid, but not what we priced: needs_review
    FAIL = "fail"  # the current attempt failed; the hold stays for a retry
    RELEASE = "release"  # the current attempt expired within the hold: pending again
    EXPIRE = "expire"  # the current attempt expired and so did the hold: slot freed
    LATE_PAYMENT = "late_payment"  # paid after the slot was freed: confirm if free, else refund
    REFUND_EXTRA = "refund_extra"  # paid again for an already settled reservation: refund it


def decide(
    status: Status,
    paid_session_id: str | None,
    signal: Attempt,
    known: Attempt | None,
    newest_other: Attempt | None,
    *,
    hold_valid: bool,
    amount_ok: bool,
) -> Action:
    """The action for `signal` (a session reaching a stage) on a reservation in `status`.

    `known` is what was recorded of the same session before, `newest_other` the newest attempt of
    any other session; `amount_ok` whether a payment matches our price.
    """
    if not advances(known.stage if known else None, signal.stage):
        return Action.NOTHING
    if signal.stage is Stage.PAID:
        if status in (Status.PENDING, Status.PROCESSING, Status.FAILED):
            return Action.CONFIRM if amount_ok else Action.FLAG
        if status in (Status.EXPIRED, Status.CANCELLED):
            return Action.LATE_PAYMENT
        if signal.session_id != paid_session_id:
            return Action.REFUND_EXTRA
        return Action.NOTHING
    if status not in (Status.PENDING, Status.PROCESSING, Status.FAILED):
        return Action.NOTHING
    if newest_other is not None and signal.order_key < newest_other.order_key:
        return Action.NOTHING
    if signal.stage in (Stage.OPEN, Stage.AWAITING):
        return Action.PROCESS
    if signal.stage is Stage.FAILED:
        return Action.FAIL
    return Action.RELEASE if hold_valid else Action.EXPIRE


def amount_problem(
    *,
    expected_total: int,
    expected_currency: str,
    paid_total: int | None,
    paid_currency: str | None,
    cart_total: int = 0,
    services_total_claimed: int | None = None,
) -> str | None:
    """Why a session's payment does not match our prices, or None when it does.

    A session may also pay beats (the cart, priced by checkout): what it paid for reservations
    is its total minus the cart total, and that must equal our own sum of their prices.
    """
    if paid_currency is None or paid_currency.lower() != expected_currency.lower():
        return "currency_mismatch"
    if services_total_claimed is not None and services_total_claimed != expected_total:
        return "amount_mismatch"
    if paid_total is None or paid_total - cart_total != expected_total:
        return "amount_mismatch"
    return None
