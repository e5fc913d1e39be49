"""Disputes: how far one got (open < won | lost) and what each stage does to what it paid for.

A dispute only moves forward, so a duplicate or a `created` arriving after `closed` changes
nothing. While it is open the booking stands (`disputed` keeps the slot: the dispute may be won,
and the slot must still be the user's then). Won: everything goes back to what it was. Lost:
the bank gave the money back to the payer, the reservation is `dispute_lost` and its slot free
(a booking nobody paid for must not keep a paying customer out; a slot already past loses
nothing), and an operator, told by e-mail, may book the user again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DisputeStage(StrEnum):
    """How far one dispute got."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


_RANK = {DisputeStage.OPEN: 0, DisputeStage.WON: 1, DisputeStage.LOST: 1}
# Stripe's statuses that end a dispute in our favour (an inquiry closed without a chargeback too).
_WON = frozenset({"won", "warning_closed"})


def dispute_stage(stripe_status: str) -> DisputeStage:
    """The stage of Stripe's dispute `status`."""
    if stripe_status in _WON:
        return DisputeStage.WON
    if stripe_status == "lost":
        return DisputeStage.LOST
    return DisputeStage.OPEN


def dispute_advances(known: DisputeStage | None, new: DisputeStage) -> bool:
    """Whether `new` moves a dispute known at `known` forward (closed ones never move)."""
    return known is None or _RANK[new] > _RANK[known]


@dataclass(frozen=True)
class Disputed:
    """What a dispute stage makes of a paid row: its new status and the status to restore."""

    status: str
    before: str | None


def on_dispute(
    status: str,
    before: str | None,
    stage: DisputeStage,
    *,
    paid: frozenset[str],
    disputed: str,
    lost: str,
) -> Disputed | None:
    """The new status of a row in `status` (paid ones: `paid`) at `stage`, None to leave it.

    A refunded row stays as it is: its money already went back, and a status that held the slot
    again could collide with the slot's next booking.
    """
    if stage is DisputeStage.OPEN:
        return Disputed(disputed, status) if status in paid else None
    if stage is DisputeStage.WON:
        return Disputed(before or status, None) if status == disputed else None
    if status == disputed:
        return Disputed(lost, before)
    return Disputed(lost, status) if status in paid else None
