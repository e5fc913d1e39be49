"""The hold sweep: unpaid holds whose time ran out become expired and free their slots."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from reservation.domain.model import Status
from reservation.service_layer.observers import NullObserver, SweepObserver
from reservation.service_layer.ports import ReservationUnitOfWork

_UNOBSERVED = NullObserver()


async def expire_due_holds(
    uow: Callable[[], ReservationUnitOfWork],
    now: datetime,
    *,
    batch_size: int = 200,
    observer: SweepObserver = _UNOBSERVED,
) -> int:
    """Expire every due hold in batches (rows another worker holds are skipped); how many.

    Each committed batch is reported to `observer` (the worker's counts expired outcomes).
    """
    total = 0
    while True:
        async with uow() as work:
            rows = await work.repo.due_holds(now, batch_size)
            for row in rows:
                row.status, row.updated_at = Status.EXPIRED, now
                work.facts.expired(row)
            await work.commit()
        observer.holds_expired(len(rows))
        total += len(rows)
        if len(rows) < batch_size:
            return total
