"""Beats orders of the database as `domain.orders.Order` aggregates; no commit in here.

An order is locked once per transaction (created first if new) and kept in memory; `flush`
writes back the orders that changed in one executemany UPDATE (Core, no ORM flush).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from reservation.adapters.tables import OrderRow
from reservation.domain.orders import Order, OrderDraft, OrderLine, OrderStatus

_ORDERS = OrderRow.__table__  # type: ignore[attr-defined]
_FIELDS = (
    "user_id",
    "user_email",
    "total",
    "currency",
    "review_reason",
    "payment_intent_id",
    "paid_amount",
    "paid_currency",
    "paid_at",
    "confirmed_at",
    "dispute_id",
    "status_before_dispute",
    "refunded_amount",
    "refund_id",
    "refunded_at",
    "updated_at",
)
_MUTABLE = (*_FIELDS, "status", "items", "cart_item_ids")
_SAVE = (
    update(_ORDERS)
    .where(_ORDERS.c.session_id == bindparam("k_session_id"))
    .values({c: bindparam(f"v_{c}") for c in _MUTABLE})
)


def lines_to_json(lines: tuple[OrderLine, ...]) -> list[dict[str, object]]:
    """The JSONB shape of the items column."""
    return [{"item_id": i.item_id, "title": i.title, "price": i.price} for i in lines]


def lines_from_json(items: list[dict[str, Any]] | None) -> tuple[OrderLine, ...] | None:
    """The items an order sold, None while checkout's fact has not told them."""
    if items is None:
        return None
    return tuple(OrderLine(str(i["item_id"]), str(i["title"]), int(i["price"])) for i in items)


def to_order(row: Any) -> Order:
    """The aggregate of an `orders` row (a Core row mapping)."""
    return Order(
        session_id=row["session_id"],
        cart_item_ids=tuple(row["cart_item_ids"]),
        lines=lines_from_json(row["items"]),
        status=OrderStatus(row["status"]),
        **{f: row[f] for f in _FIELDS},
    )


def _values(order: Order) -> dict[str, Any]:
    values = {f: getattr(order, f) for f in _FIELDS}
    values["status"] = order.status.value
    values["items"] = None if order.lines is None else lines_to_json(order.lines)
    values["cart_item_ids"] = list(order.cart_item_ids)
    return values


class OrderRepository:
    """Orders of beats, within one session; orders locked once are kept for the transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.seen: dict[str, Order] = {}
        self._saved: dict[str, dict[str, Any]] = {}

    async def lock_or_create(self, draft: OrderDraft) -> Order:
        """The session's order, row-locked; created from `draft` if this is its first message."""
        if draft.session_id not in self.seen:
            await self.lock_or_create_many([draft])
        return self.seen[draft.session_id]

    async def lock_or_create_many(self, drafts: Sequence[OrderDraft]) -> None:
        """Row-lock the orders of `drafts` in session id order, creating those that are new.

        Insert-if-absent then lock: a concurrent first message waits on the insert and then
        locks the committed row, so the checkout fact and the Stripe event, handled side by side
        on different partitions, still apply one after the other. The first draft of a session
        creates its order, as if the drafts came one by one.
        """
        first: dict[str, OrderDraft] = {}
        for draft in drafts:
            if draft.session_id not in self.seen:
                first.setdefault(draft.session_id, draft)
        if not first:
            return
        await self.session.execute(
            insert(OrderRow).on_conflict_do_nothing(index_elements=["session_id"]),
            [
                {
                    "session_id": d.session_id,
                    "user_id": d.user_id,
                    "user_email": d.user_email,
                    "cart_item_ids": list(d.cart_item_ids),
                    "items": None if d.lines is None else lines_to_json(d.lines),
                    "total": d.total,
                    "currency": d.currency.lower(),
                    "status": OrderStatus.OPEN.value,
                }
                for d in sorted(first.values(), key=lambda d: d.session_id)
            ],
        )
        rows = await self.session.execute(
            select(_ORDERS)
            .where(_ORDERS.c.session_id.in_(sorted(first)))
            .order_by(_ORDERS.c.session_id)
            .with_for_update()
        )
        self._track([to_order(r) for r in rows.mappings()])

    async def paid_by(self, payment_intent_id: str) -> list[Order]:
        """Row-locked orders paid by a PaymentIntent (this transaction's changes included)."""
        await self.flush()
        rows = await self.session.execute(
            select(_ORDERS)
            .where(_ORDERS.c.payment_intent_id == payment_intent_id)
            .order_by(_ORDERS.c.session_id)
            .with_for_update()
        )
        found = [to_order(r) for r in rows.mappings()]
        self._track([o for o in found if o.session_id not in self.seen])
        return [self.seen[o.session_id] for o in found]

    def _track(self, loaded: list[Order]) -> None:
        for order in loaded:
            self.seen[order.session_id] = order
            self._saved[order.session_id] = _values(order)

    async def flush(self) -> None:
        """Write the orders that changed, in one executemany UPDATE."""
        changed: list[dict[str, Any]] = []
        for session_id in sorted(self.seen):
            values = _values(self.seen[session_id])
            if values != self._saved[session_id]:
                changed.append(
                    {"k_session_id": session_id, **{f"v_{k}": v for k, v in values.items()}}
                )
                self._saved[session_id] = values
        if changed:
            await self.session.execute(_SAVE, changed)

    async def get(self, session_id: str) -> OrderRow | None:
        """One order row, unlocked (for reads)."""
        return await self.session.get(OrderRow, session_id)
