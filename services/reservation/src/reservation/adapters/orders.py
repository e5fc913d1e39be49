"""Queries of the orders table; callers own the transaction (no commit in here)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from reservation.adapters.tables import OrderRow
from reservation.domain.orders import OrderDraft, OrderLine, OrderStatus


def lines_to_json(lines: tuple[OrderLine, ...]) -> list[dict[str, object]]:
    """The JSONB shape of the items column."""
    return [{"item_id": i.item_id, "title": i.title, "price": i.price} for i in lines]


def lines_of(row: OrderRow) -> tuple[OrderLine, ...] | None:
    """The items an order sold, None while checkout's fact has not told them."""
    if row.items is None:
        return None
    return tuple(OrderLine(str(i["item_id"]), str(i["title"]), int(i["price"])) for i in row.items)


class OrderRepository:
    """Orders of beats, within one session; orders locked once are kept for the transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._locked: dict[str, OrderRow] = {}

    async def lock_or_create(self, draft: OrderDraft) -> OrderRow:
        """The session's order, row-locked; created from `draft` if this is its first message."""
        if draft.session_id not in self._locked:
            await self.lock_or_create_many([draft])
        return self._locked[draft.session_id]

    async def lock_or_create_many(self, drafts: Sequence[OrderDraft]) -> None:
        """Row-lock the orders of `drafts` in session id order, creating those that are new.

        Insert-if-absent then lock: a concurrent first message waits on the insert and then
        locks the committed row, so the checkout fact and the Stripe event, handled side by side
        on different partitions, still apply one after the other. The first draft of a session
        creates its order, as if the drafts came one by one.
        """
        first: dict[str, OrderDraft] = {}
        for draft in drafts:
            if draft.session_id not in self._locked:
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
        rows = await self.session.scalars(
            select(OrderRow)
            .where(col(OrderRow.session_id).in_(sorted(first)))
            .order_by(col(OrderRow.session_id))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        self._locked.update((row.session_id, row) for row in rows)

    async def get(self, session_id: str) -> OrderRow | None:
        """One order, unlocked (for reads)."""
        return await self.session.get(OrderRow, session_id)
