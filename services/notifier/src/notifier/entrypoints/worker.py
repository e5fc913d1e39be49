"""`python -m notifier worker`: a stateless Faust agent on reservation.events and the group's
retry topic (bootstrap.Container.consumer_app), with /healthz, /readyz and /metrics served on
NOTIFIER_HTTP_PORT (8003). Faust runs `worker --without-web`; extra arguments such as `-l info`
go to Faust. Migrates first when NOTIFIER_AUTO_MIGRATE=true.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from backbone.kafka import ensure_topics
from backbone.logging import configure_logging, get_logger
from contracts.topics import all_topic_partitions, dlq_topic
from notifier.adapters.migrate import upgrade
from notifier.bootstrap import build
from notifier.entrypoints.app import create_app, http_service
from notifier.service_layer.handlers import Sender
from notifier.settings import Settings, get_settings

log = get_logger(__name__)
# Partitions for topics outside the registry (a test's or a parallel stack's own topics).
DEFAULT_PARTITIONS = 3


def wanted_topics(settings: Settings) -> dict[str, int]:
    """The topics the worker reads and writes, with the registry's partition counts."""
    registry = all_topic_partitions()
    names = [*settings.topics, dlq_topic(settings.consumer_group)]
    return {name: registry.get(name, DEFAULT_PARTITIONS) for name in names}


def run(faust_args: Sequence[str] = (), *, sender: Sender | None = None) -> None:
    """Migrate if asked, make sure the topics exist, then hand over to Faust's worker command
    (which exits the process when the worker stops).

    `sender` replaces the SMTP sender (the crash tests wrap it); production passes nothing.
    """
    settings = get_settings()
    configure_logging("notifier", settings.log)
    if settings.auto_migrate:
        upgrade(settings.database)
        log.info("migrations.applied")
    # Faust runs on the loop current at start-up: make it this one, used first for the topics.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(ensure_topics(settings.kafka, wanted_topics(settings)))
    container = build(settings, sender=sender)
    app = container.consumer_app()
    app.service(http_service(create_app(container.engine), settings.http_host, settings.http_port))
    sys.argv = [sys.argv[0], "worker", "--without-web", *faust_args]
    app.main()


def main(argv: list[str]) -> int:
    """Entry point: `argv` goes to Faust's worker command."""
    run(argv)
    return 0
