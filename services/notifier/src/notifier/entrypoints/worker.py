"""The notifier worker: a stateless Faust agent on reservation.events and the group's retry topic.

Run: `python -m notifier worker` (it runs Faust's `worker --without-web`; extra arguments such as
`-l info` go to Faust). Health and metrics are served on NOTIFIER_HTTP_PORT (8003).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

import faust

from backbone.db.prune import NOTIFICATIONS, Pruner
from backbone.faust import create_faust_app, resilient_agent
from backbone.kafka.admin import ensure_topics
from backbone.logging import configure_logging, get_logger
from backbone.settings import DatabaseSettings, KafkaSettings
from contracts.topics import all_topic_partitions, dlq_topic
from notifier.adapters.metrics import CountingDeadLetterWriter
from notifier.adapters.migrate import upgrade
from notifier.bootstrap import Notifier, bootstrap
from notifier.entrypoints.http import create_http_app, http_service
from notifier.service_layer.handlers import Sender
from notifier.settings import NotifierSettings, get_settings

log = get_logger(__name__)
# Partitions for topics outside the registry (a test's or a parallel stack's own topics).
DEFAULT_PARTITIONS = 3


def create_worker(notifier: Notifier) -> faust.App:
    """The Faust app: one resilient agent handling what waits in batches, and the HTTP service
    started with it."""
    settings = notifier.settings
    app = create_faust_app(settings.consumer_group, notifier.kafka, datadir=str(settings.data_dir))
    resilient_agent(
        app,
        notifier.handler.handle_batch,
        topics=settings.topics,
        producer=notifier.producer,
        retry=notifier.retry,
        dead_letters=CountingDeadLetterWriter(notifier.producer, settings.consumer_group),
        batch_max_size=settings.batch_max_size,
    )
    api = create_http_app(notifier.engine)
    app.service(http_service(api, settings.http_host, settings.http_port))
    # Settled notifications past the retention (PRUNE_*) go, at most once per interval.
    pruner = Pruner(notifier.engine, [NOTIFICATIONS])

    @app.timer(min(pruner.settings.interval_s, 60.0), on_leader=False)  # type: ignore[untyped-decorator]
    async def prune() -> None:
        await pruner.maybe_run()  # never raises

    return app


def wanted_topics(settings: NotifierSettings) -> dict[str, int]:
    """The topics the worker reads and writes, with the registry's partition counts."""
    registry = all_topic_partitions()
    names = [*settings.topics, dlq_topic(settings.consumer_group)]
    return {name: registry.get(name, DEFAULT_PARTITIONS) for name in names}


def run(faust_args: Sequence[str] = (), *, sender: Sender | None = None) -> None:
    """Migrate if asked, make sure the topics exist, then hand over to Faust's worker command
    (which exits the process when the worker stops).

    `sender` replaces the SMTP sender (the crash tests wrap it); production passes nothing.
    """
    configure_logging("notifier")
    settings = get_settings()
    database = DatabaseSettings()
    if settings.auto_migrate:
        upgrade(database)
        log.info("migrations.applied")
    kafka = KafkaSettings()
    # Faust runs on the loop current at start-up: make it this one, used first for the topics.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(ensure_topics(kafka, wanted_topics(settings)))
    app = create_worker(bootstrap(settings, kafka=kafka, database=database, sender=sender))
    sys.argv = [sys.argv[0], "worker", "--without-web", *faust_args]
    app.main()
