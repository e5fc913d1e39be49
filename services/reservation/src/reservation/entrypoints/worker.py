"""`python -m reservation worker --without-web`: the Faust payment worker and the hold sweep.

Consumes stripe.events, checkout.sessions and the group's retry topic through backbone's
resilient agent (bounded retries, then <group>.dlq); the agent is stateless, state lives in
PostgreSQL behind the inbox. What waits while a batch is handled forms the next batch (up to
RESERVATION_BATCH_MAX_SIZE), one transaction each (service_layer.payments). A Faust timer on
every worker sweeps expired holds (rows another worker is sweeping are skipped); another runs the
refund executor (service_layer.refund_executor), which carries out the refunds the batches
decided, after their commit, outside any transaction's locks; two more look overdue sessions up
at Stripe and run the scheduled reconciliation. The app and its timers are wired in
bootstrap.Container.consumer_app. GET /metrics on RESERVATION_WORKER_METRICS_PORT when set.
"""

from __future__ import annotations

import asyncio
import sys

from backbone.kafka import ensure_topics
from backbone.logging import configure_logging
from backbone.metrics_server import serve_metrics
from contracts.topics import (
    CHECKOUT_SESSIONS,
    STRIPE_EVENTS,
    all_topic_partitions,
    dlq_topic,
    retry_topic,
)
from reservation.bootstrap import build, prepare_database
from reservation.settings import Settings, get_settings


def wanted_topics(settings: Settings) -> dict[str, int]:
    """Every registry topic, and the group's retry and dead-letter topics as wide as its input."""
    group = settings.consumer_group
    partitions = all_topic_partitions()
    width = max(partitions[STRIPE_EVENTS], partitions[CHECKOUT_SESSIONS])
    return {**partitions, retry_topic(group): width, dlq_topic(group): width}


def main(argv: list[str]) -> int:
    """Prepare the database and topics, then hand over to Faust's `worker` command."""
    settings = get_settings()
    settings.refuse_unsafe(stripe=True, auth=False)
    configure_logging("reservation-worker", settings.log)
    prepare_database(settings)
    asyncio.run(ensure_topics(settings.kafka, wanted_topics(settings)))
    app = build(settings, application_name="reservation-worker").consumer_app()
    if settings.worker_metrics_port is not None:
        serve_metrics(settings.worker_metrics_port, settings.worker_metrics_host)
    options = argv or ["--without-web"]
    sys.argv = ["reservation-worker", "worker", *options]
    app.main()
    return 0
