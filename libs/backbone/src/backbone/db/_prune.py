"""Pruning: inbox, sent outbox and settled notification rows deleted after a retention, in batches.

Nothing grows forever: a service's periodic job (the reservation sweep, the outbox relay, the
notifier's timer) calls `Pruner.maybe_run`, which deletes at most once per `PRUNE_INTERVAL_S`.
The retention outlives Stripe's 30 days of webhook retries and of `GET /v1/events` (what
reconcile compares the inbox with), so a redelivered or reconciled event still finds its row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backbone.logging import get_logger

log = get_logger(__name__)

STRIPE_RETRY_DAYS = 30


class PruneSettings(BaseSettings):
    """How long processed rows are kept, and how the periodic jobs delete them (PRUNE_*)."""

    model_config = SettingsConfigDict(env_prefix="PRUNE_", extra="ignore")

    retention_days: float = Field(
        45.0,
        gt=STRIPE_RETRY_DAYS,
        description=(
            "Age after which inbox rows, sent outbox rows and settled notifications are deleted"
            " (PRUNE_RETENTION_DAYS); above Stripe's 30 days of retries and event history."
        ),
    )
    batch_size: int = Field(
        1_000, ge=1, description="Rows deleted per transaction (short locks, small WAL bursts)."
    )
    interval_s: float = Field(
        3_600.0,
        gt=0,
        description="Least time between two prunes of one process (PRUNE_INTERVAL_S).",
    )


@dataclass(frozen=True)
class PruneTarget:
    """A table whose old rows go: which column dates a row, which rows may go at all.

    The names are constants of this module, never input: they are written into the SQL.
    """

    table: str
    age_column: str
    condition: str = "TRUE"
    # A column that grows with insertion (an id): scanning its index finds the old rows first.
    order_by: str | None = None

    def statement(self) -> str:
        """One batch: lock up to :limit old rows (skipping rows others hold), delete them."""
        order = f" ORDER BY {self.order_by}" if self.order_by else ""
        return (
            f"DELETE FROM {self.table} WHERE ctid = ANY(ARRAY("  # noqa: S608 - constants only
            f"SELECT ctid FROM {self.table}"
            f" WHERE {self.age_column} < :before AND ({self.condition}){order}"
            " LIMIT :limit FOR UPDATE SKIP LOCKED))"
        )


INBOX = PruneTarget("inbox", "processed_at")
# Only rows the relay has sent: an unsent row is a fact still on its way.
SENT_OUTBOX = PruneTarget("outbox", "sent_at", "sent_at IS NOT NULL", order_by="id")
# `sending` rows are in doubt (a worker may have died mid-send): they stay for the resend.
NOTIFICATIONS = PruneTarget("notifications", "updated_at", "status IN ('sent', 'failed')")


async def prune(
    engine: AsyncEngine, target: PruneTarget, *, before: datetime, batch_size: int = 1_000
) -> int:
    """Delete `target`'s rows older than `before`, one batch per transaction; how many."""
    statement = text(target.statement())
    total = 0
    while True:
        async with engine.begin() as conn:
            result = await conn.execute(statement, {"before": before, "limit": batch_size})
        deleted = max(result.rowcount, 0)
        total += deleted
        if deleted < batch_size:
            return total


class Pruner:
    """Prunes some tables of one database, at most once per interval (a periodic job calls it)."""

    def __init__(
        self,
        engine: AsyncEngine,
        targets: Sequence[PruneTarget],
        settings: PruneSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._targets = tuple(targets)
        self.settings = settings if settings is not None else PruneSettings()
        self._clock = clock
        self._last: float | None = None

    async def run(self, now: datetime | None = None) -> dict[str, int]:
        """Prune every target now; rows deleted per table."""
        now = now if now is not None else datetime.now(UTC)
        before = now - timedelta(days=self.settings.retention_days)
        deleted = {}
        for target in self._targets:
            deleted[target.table] = await prune(
                self._engine, target, before=before, batch_size=self.settings.batch_size
            )
        if any(deleted.values()):
            log.info("prune.deleted", before=before.isoformat(), **deleted)
        return deleted

    async def maybe_run(self) -> dict[str, int] | None:
        """`run` when the interval has passed since the last one (or never ran); else None.

        Never raises: pruning is housekeeping, and a failure must not stop the job that calls
        it (the next interval tries again).
        """
        if self._last is not None and self._clock() - self._last < self.settings.interval_s:
            return None
        self._last = self._clock()
        try:
            return await self.run()
        except Exception:
            log.exception("prune.failed", tables=[t.table for t in self._targets])
            return None
