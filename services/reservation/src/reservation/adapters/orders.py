"""Queries of the orders table; callers own the transaction (no commit in here)."""

from __future__ import annotations

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
    """Orders of beats, within one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_or_create(self, draft: OrderDraft) -> OrderRow:
        """The session's order, row-locked; created from `draft` if this is its first message.

        Insert-if-absent then lock: a concurrent first message waits on the insert and then
        locks the committed row, so the checkout fact and the Stripe event, handled side by side
        on different partitions, still apply one after the other.
        """
        await self.session.execute(
            insert(OrderRow)
            .values(
                session_id=draft.session_id,
                user_id=draft.user_id,
                user_email=draft.user_email,
                cart_item_ids=list(draft.cart_item_ids),
                items=None if draft.lines is None else lines_to_json(draft.lines),
                total=draft.total,
                currency=draft.currency.lower(),
                status=OrderStatus.OPEN.value,
            )
            .on_conflict_do_nothing(index_elements=["session_id"])
        )
        return (
            await self.session.scalars(
                select(OrderRow)
                .where(col(OrderRow.session_id) == draft.session_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).one()

    async def get(self, session_id: str) -> OrderRow | None:
        """One order, unlocked (for reads)."""
        return await self.session.get(OrderRow, session_id)
