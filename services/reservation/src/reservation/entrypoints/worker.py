"""`python -m reservation worker --without-web`: the Faust payment worker and the hold sweep.

Consumes stripe.events, checkout.sessions and the group's retry topic through backbone's
resilient agent (bounded retries, then <group>.dlq); the agent is stateless, state lives in
PostgreSQL behind the inbox. What waits while a batch is handled forms the next batch (up to
RESERVATION_BATCH_MAX_SIZE), one transaction each (service_layer.payments). A Faust timer on
every worker sweeps expired holds (rows another worker is sweeping are skipped); another runs the
refund executor (service_layer.refund_executor), which carries out the refunds the batches
decided, after their commit, outside any transaction's locks; entrypoints.timers adds the
overdue-session look-ups and the scheduled reconciliation. GET /metrics on
RESERVATION_WORKER_METRICS_PORT when set.
"""

from __future__ import annotations

import asyncio
import sys

import faust

from backbone.db.prune import INBOX, Pruner
from backbone.faust import create_faust_app, resilient_agent
from backbone.kafka import Producer
from backbone.kafka.admin import ensure_topics
from backbone.logging import configure_logging, get_logger
from backbone.metrics_server import serve_metrics
from contracts.topics import (
    CHECKOUT_SESSIONS,
    STRIPE_EVENTS,
    all_topic_partitions,
    dlq_topic,
    retry_topic,
)
from reservation.bootstrap import build, prepare_database, utc_now
from reservation.entrypoints import timers
from reservation.service_layer.provenance import flag_overdue
from reservation.service_layer.sweep import expire_due_holds
from reservation.settings import Settings, get_settings

log = get_logger(__name__)


def build_app(settings: Settings) -> faust.App:
    """The Faust app: one resilient agent and the sweep timer."""
    group = settings.consumer_group
    container = build(settings, application_name="reservation-worker")
    app = create_faust_app(group, settings.kafka, datadir=str(settings.data_dir))
    producer = Producer(settings.kafka, client_id=f"{group}-dlq")
    resilient_agent(
        app,
        container.batch_handler,
        topics=[STRIPE_EVENTS, CHECKOUT_SESSIONS, retry_topic(group)],
        producer=producer,
        retry=settings.retry,
        name=f"{group}.payments",
        batch_max_size=settings.batch_max_size,
    )

    # Inbox rows past the retention (PRUNE_*) go on a sweep tick, at most once per interval.
    pruner = Pruner(container.engine, [INBOX])

    @app.timer(settings.sweep_interval_s, on_leader=False)  # type: ignore[untyped-decorator]
    async def sweep() -> None:
        await pruner.maybe_run()  # never raises
        try:
            expired = await expire_due_holds(
                lambda: container.uow(None), utc_now(), observer=container.observer
            )
        except Exception:
            log.exception("sweep.failed")  # the next tick tries again
            return
        if expired:
            log.info("sweep.expired_holds", count=expired)
        try:  # paid sessions checkout never told us about: flagged, never confirmed
            await flag_overdue(
                lambda: container.uow(None),
                container.payments.apply,
                utc_now(),
                settings.checkout_fact_grace_s,
            )
        except Exception:
            log.exception("sweep.unverified_failed")

    timers.register(app, container, settings)

    @app.timer(settings.refund_interval_s, on_leader=False)  # type: ignore[untyped-decorator]
    async def refunds() -> None:
        # Every worker runs it: requests are claimed with a lease (SKIP LOCKED), so two never
        # carry out the same one at once, and Stripe's idempotency key covers a lapsed lease.
        # Idle, it queries nothing until woken by a batch or its idle wait is over.
        try:
            await container.refunds.run_due()
        except Exception:
            log.exception("refunds.round_failed")  # the next tick tries again

    return app


def main(argv: list[str]) -> int:
    """Prepare the database and topics, then hand over to Faust's `worker` command."""
    settings = get_settings()
    settings.refuse_unsafe(stripe=True, auth=False)
    configure_logging("reservation-worker", settings.log)
    prepare_database(settings)
    group = settings.consumer_group
    partitions = all_topic_partitions()
    width = max(partitions[STRIPE_EVENTS], partitions[CHECKOUT_SESSIONS])
    wanted = {**partitions, retry_topic(group): width, dlq_topic(group): width}
    asyncio.run(ensure_topics(settings.kafka, wanted))
    app = build_app(settings)
    if settings.worker_metrics_port is not None:
        serve_metrics(settings.worker_metrics_port, settings.worker_metrics_host)
    options = argv or ["--without-web"]
    sys.argv = ["reservation-worker", "worker", *options]
    app.main()
    return 0
