"""Reconciliation: Stripe's events and sessions against what this service applied.

An event of a type we act on whose id is not in our inbox was never delivered (or never
applied): it is republished to stripe.events exactly as webhook-ingest would write it, and the
normal, idempotent path repairs the reservation. A paid session whose reservations are not
settled here, with no event left to replay, is reported (`paid_not_settled`), and so is a paid
session whose beats order is still open (`order_not_settled`); the scheduled pass
(service_layer.scheduled_reconcile) repairs both from the session's state at Stripe.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from backbone.kafka import retry_transient
from contracts.checkout import ReservationCheckoutMetadata
from contracts.stripe import HANDLED_EVENT_TYPES
from reservation.domain.model import SETTLED_STATUSES
from reservation.domain.orders import OrderStatus
from reservation.service_layer.ports import ReservationUnitOfWork

# How long a listing keeps retrying through a Stripe outage before the command gives up.
STRIPE_PATIENCE_S = 300.0


class StripeListing(Protocol):
    """What reconciliation reads from Stripe."""

    async def checkout_sessions(self, created_gte: int) -> list[dict[str, Any]]: ...

    async def events(self, created_gte: int, types: list[str]) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Mismatch:
    """One disagreement between Stripe and us."""

    kind: str  # "event_not_applied", "paid_not_settled" or "order_not_settled"
    session_id: str
    reservation_ids: tuple[str, ...]
    ours: str
    stripe_says: str
    event_id: str | None = None


@dataclass
class Report:
    """What a reconciliation pass found, and the events it can replay."""

    mismatches: list[Mismatch]
    replayable: list[dict[str, Any]]
    # Paid sessions whose reservations or order are not settled: repaired from their state.
    unsettled_sessions: list[dict[str, Any]] = field(default_factory=list)


def _reservation_ids(obj: dict[str, Any]) -> tuple[str, ...]:
    try:
        metadata = ReservationCheckoutMetadata.from_stripe_metadata(obj.get("metadata") or {})
    except ValidationError:
        return ()
    return tuple(metadata.reservation_ids)


async def compare(
    uow: ReservationUnitOfWork, stripe: StripeListing, consumer: str, since: int
) -> Report:
    """Find the mismatches over the window starting at `since` (Unix seconds)."""
    # Stripe's 5xx, 429 and timeouts are waited out (for a while: this is a one-shot command).
    events = await retry_transient(
        lambda: stripe.events(since, sorted(HANDLED_EVENT_TYPES)),
        owner="reconcile",
        give_up_after_s=STRIPE_PATIENCE_S,
    )
    sessions = await retry_transient(
        lambda: stripe.checkout_sessions(since),
        owner="reconcile",
        give_up_after_s=STRIPE_PATIENCE_S,
    )
    async with uow:
        reads = uow.reads
        applied = await reads.applied(consumer, [e["id"] for e in events])
        wanted = {rid for s in sessions for rid in _reservation_ids(s)}
        wanted |= {rid for e in events for rid in _reservation_ids(e["data"]["object"])}
        intents = {
            str(e["data"]["object"].get("payment_intent"))
            for e in events
            if e["data"]["object"].get("object") in _BY_INTENT
        }
        rows = await reads.reservation_states(sorted(wanted), sorted(intents))
        order_status = await reads.order_statuses([str(s["id"]) for s in sessions])
    status = {r.id: r.status for r in rows}
    by_intent: dict[str, list[str]] = {}
    for row in rows:
        if row.payment_intent_id:
            by_intent.setdefault(row.payment_intent_id, []).append(row.id)
    mismatches: list[Mismatch] = []
    replayable: list[dict[str, Any]] = []
    covered: set[str] = set()
    for event in events:
        if event["id"] in applied:
            continue
        obj = event["data"]["object"]
        if obj.get("object") in _BY_INTENT:
            reservations = tuple(by_intent.get(str(obj.get("payment_intent")), ()))
        else:
            reservations = tuple(r for r in _reservation_ids(obj) if r in status)
        if not reservations:
            # Not about a reservation of this database (another integration or environment
            # on the same Stripe account): replaying it would change nothing here.
            continue
        covered.add(str(obj.get("id")))
        replayable.append(event)
        mismatches.append(
            Mismatch(
                kind="event_not_applied",
                session_id=str(obj.get("id")),
                reservation_ids=reservations,
                ours=", ".join(status.get(r, "unknown") for r in reservations) or "-",
                stripe_says=event["type"],
                event_id=event["id"],
            )
        )
    unsettled_sessions: list[dict[str, Any]] = []
    for session in sessions:
        reservations = _reservation_ids(session)
        paid = session.get("status") == "complete" and session.get("payment_status") == "paid"
        if not paid or session["id"] in covered:
            continue
        # An order we never recorded is another environment's (checkout's fact reaches us
        # reliably): only an open order of ours waits for a payment Stripe already took.
        if _has_cart(session) and order_status.get(session["id"]) == OrderStatus.OPEN:
            unsettled_sessions.append(session)
            mismatches.append(
                Mismatch(
                    kind="order_not_settled",
                    session_id=session["id"],
                    reservation_ids=(),
                    ours=OrderStatus.OPEN.value,
                    stripe_says="complete, paid",
                )
            )
        unsettled = [r for r in reservations if r in status and status[r] not in SETTLED_STATUSES]
        if unsettled:
            if not unsettled_sessions or unsettled_sessions[-1] is not session:
                unsettled_sessions.append(session)
            mismatches.append(
                Mismatch(
                    kind="paid_not_settled",
                    session_id=session["id"],
                    reservation_ids=tuple(unsettled),
                    ours=", ".join(status.get(r, "unknown") for r in unsettled),
                    stripe_says="complete, paid",
                )
            )
    return Report(mismatches, replayable, unsettled_sessions)


# Objects found by their payment intent, not by a session's metadata.
# A refund's and a dispute's events carry their payment intent, as a charge's do.
_BY_INTENT = ("charge", "dispute", "refund")


def _has_cart(obj: dict[str, Any]) -> bool:
    try:
        metadata = ReservationCheckoutMetadata.from_stripe_metadata(obj.get("metadata") or {})
    except ValidationError:
        return False
    return bool(metadata.cart_item_ids)


def new_run_id() -> str:
    """An id for one reconciliation run, carried as the request id of what it republishes."""
    return f"reconcile-{uuid.uuid4().hex[:12]}"
