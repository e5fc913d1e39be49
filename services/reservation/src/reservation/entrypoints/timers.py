"""The worker's money timers: overdue sessions looked up at Stripe, scheduled reconciliation.

Registered on the Faust app by entrypoints.worker. Every worker looks for overdue sessions (a
session resolved twice is one inbox claim); only the worker holding the reconciliation lock
reconciles. Each tick swallows and logs its errors: the next tick tries again.
"""

from __future__ import annotations

from datetime import timedelta

import faust

from backbone.kafka import Producer
from backbone.logging import get_logger
from reservation.adapters.stripe_replay import republisher
from reservation.bootstrap import Container, utc_now
from reservation.service_layer.overdue import OverdueSessions
from reservation.service_layer.scheduled_reconcile import ScheduledReconcile
from reservation.settings import Settings

log = get_logger(__name__)


def overdue_sessions(container: Container, settings: Settings) -> OverdueSessions:
    """The overdue look-up, wired to Stripe and the worker's payment service."""
    return OverdueSessions(
        uow=lambda: container.uow(None),
        stripe=container.stripe,
        payments=container.payments,
        grace=timedelta(seconds=settings.overdue_grace_s),
        clock=utc_now,
        observer=container.observer,
    )


def scheduled_reconcile(
    container: Container, settings: Settings, producer: Producer
) -> ScheduledReconcile:
    """The scheduled reconciliation, wired to Stripe, the broker and the payment service."""
    return ScheduledReconcile(
        engine=container.engine,
        uow=lambda: container.uow(None),
        stripe=container.stripe,
        payments=container.payments,
        publish=republisher(producer.send_many),
        consumer=settings.consumer_group,
        window_s=settings.reconcile_window_s,
        observer=container.observer,
    )


def register(app: faust.App, container: Container, settings: Settings) -> None:
    """Add both timers to the worker's app."""
    overdue = overdue_sessions(container, settings)
    producer = Producer(settings.kafka, client_id=f"{settings.consumer_group}-reconcile")
    reconcile = scheduled_reconcile(container, settings, producer)

    @app.timer(settings.overdue_interval_s, on_leader=False)  # type: ignore[untyped-decorator]
    async def resolve_overdue_sessions() -> None:
        try:
            resolved = await overdue.run_once()
        except Exception:
            log.exception("overdue.tick_failed")
            return
        if resolved:
            log.info("overdue.resolved_sessions", count=resolved)

    @app.timer(settings.reconcile_interval_s, on_leader=False)  # type: ignore[untyped-decorator]
    async def reconcile_with_stripe() -> None:
        await reconcile.tick()
