"""The beats order of a checkout session, inside the caller's transaction: record, then settle once.

The payment service calls `apply_order` in the same transaction as the inbox claim (and, for a
mixed cart, the reservations' changes), so the order's change and its OrderConfirmedV1 outbox
row commit together or not at all. See domain.orders for why any arrival order converges.
"""

from __future__ import annotations

from datetime import datetime

from backbone.logging import bound_ids, get_logger
from reservation.domain.orders import CartPayment, OrderDraft
from reservation.service_layer.ports import ReservationUnitOfWork

log = get_logger(__name__)


async def apply_order(
    uow: ReservationUnitOfWork, draft: OrderDraft, payment: CartPayment | None, now: datetime
) -> None:
    """Record what `draft` (and `payment`, if the session is paid) say; settle when both known."""
    with bound_ids(order_id=draft.session_id, session_id=draft.session_id):
        order = await uow.orders.lock_or_create(draft)
        was = order.status.value
        action = order.record(draft, payment, now)
        log.info(
            "order.decided",
            action=action.value,
            status=was,
            sale_known=order.lines is not None,
            paid=order.paid_at is not None,
        )
