"""The hold sweep: unpaid holds whose time ran out become expired and free their slots."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from reservation.adapters.metrics import OUTCOMES
from reservation.domain.model import Status
from reservation.service_layer.unit_of_work import UnitOfWork


async def expire_due_holds(
    uow: Callable[[], UnitOfWork], now: datetime, *, batch_size: int = 200
) -> int:
    """Expire every due hold in batches (rows another worker holds are skipped); how many."""
    total = 0
    while True:
        async with uow() as work:
            rows = await work.repo.due_holds(now, batch_size)
            for row in rows:
                row.status, row.updated_at = Status.EXPIRED, now
                work.facts.expired(row)
            await work.commit()
        OUTCOMES.labels("expired").inc(len(rows))
        total += len(rows)
        if len(rows) < batch_size:
            return total
