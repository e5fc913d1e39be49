"""Keeps an outbox relay running, and measures the backlog it leaves behind.

The relay waits out outages itself (OutboxRelay); this restarts it if it dies anyway (a
bug, a failure no one classified), with a growing pause, a log line and `relay` in readiness
meanwhile. The backlog is measured by a task of its own, so a stopped or crash-looping relay
shows as a growing `outbox_oldest_unsent_age_seconds` rather than as silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backbone.db._relay import OutboxRelay
from backbone.kafka import Producer
from backbone.logging import get_logger
from backbone.metrics import OUTBOX_OLDEST_AGE, OUTBOX_UNSENT, RELAY_RESTARTS
from backbone.metrics_server import serve_metrics
from backbone.readiness import STALLS
from backbone.settings import RelaySettings

log = get_logger(__name__)

_BACKLOG = text("SELECT count(*), min(created_at) FROM outbox WHERE sent_at IS NULL")


class OutboxMonitor:
    """Reads the backlog of one outbox every `interval_s`; the age is computed at scrape time."""

    def __init__(self, engine: AsyncEngine, service: str, *, interval_s: float = 5.0) -> None:
        self._engine = engine
        self.service = service
        self._interval_s = interval_s
        self._oldest: datetime | None = None
        OUTBOX_UNSENT.labels(service).set(0)
        OUTBOX_OLDEST_AGE.labels(service).set_function(self.oldest_age_s)

    def oldest_age_s(self) -> float:
        """Seconds since the oldest unsent row was committed, as last read."""
        if self._oldest is None:
            return 0.0
        return max((datetime.now(UTC) - self._oldest).total_seconds(), 0.0)

    async def refresh(self) -> None:
        """One read of the backlog (bounded in time); on failure the last values stay."""
        async with asyncio.timeout(max(self._interval_s, 2.0)), self._engine.connect() as conn:
            row = (await conn.execute(_BACKLOG)).one()
        OUTBOX_UNSENT.labels(self.service).set(int(row[0]))
        self._oldest = row[1]

    async def run(self) -> None:
        """Refresh until cancelled."""
        failing = False
        while True:
            try:
                await self.refresh()
                failing = False
            except Exception as exc:
                if not failing:  # once per outage, not every tick
                    log.warning("outbox_monitor.failed", service=self.service, error=str(exc)[:200])
                failing = True
            await asyncio.sleep(self._interval_s)


async def supervise(
    relay: OutboxRelay,
    engine: AsyncEngine,
    *,
    restart_initial_s: float = 1.0,
    restart_max_s: float = 30.0,
    monitor_interval_s: float = 5.0,
) -> None:
    """Run `relay` until `relay.stop()`, restarting it whenever it dies, and its backlog
    monitor beside it."""
    monitor = asyncio.create_task(
        OutboxMonitor(engine, relay.source, interval_s=monitor_interval_s).run(),
        name=f"outbox-monitor-{relay.source}",
    )
    owner, restarts, delay = f"relay:{relay.source}", 0, restart_initial_s
    try:
        while not relay.stopping:
            started = time.monotonic()
            try:
                await relay.run()
                return
            except Exception as exc:
                if relay.stopping:
                    return
                restarts += 1
                RELAY_RESTARTS.labels(relay.source).inc()
                # A relay that ran a while before dying starts again quickly; a crash loop slows.
                if time.monotonic() - started > restart_max_s:
                    delay = restart_initial_s
                log.exception(
                    "relay.restarting",
                    source=relay.source,
                    restarts=restarts,
                    delay_s=delay,
                    error_class=type(exc).__name__,
                )
                STALLS.begin(owner, "restart")
                try:
                    await asyncio.sleep(delay)
                finally:
                    STALLS.end(owner, "restart")
                delay = min(delay * 2, restart_max_s)
    finally:
        monitor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await monitor


async def serve_until_signalled(
    relay: OutboxRelay, producer: Producer, engine: AsyncEngine
) -> None:
    """Run `relay` as a process's main task, supervised: SIGINT and
    SIGTERM stop it, then the clients close. RELAY_METRICS_PORT, when set, serves /metrics
    (the outbox backlog among them) and /readyz there."""
    settings = RelaySettings()
    if settings.metrics_port is not None:
        serve_metrics(settings.metrics_port, settings.metrics_host)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, relay.stop)
    try:
        await supervise(relay, engine)
    finally:
        await producer.stop()
        await engine.dispose()
        log.info("relay.stopped", source=relay.source, published=relay.published)
