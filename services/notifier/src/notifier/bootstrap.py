"""The composition root: the one place the notifier's adapters are built and wired.

`build(settings, **overrides)` returns a Container: the engine, the SMTP sender, the handler, the
producer and dead-letter writer, and (when asked for) the worker's Faust app with its prune
timer. Nothing connects before first use. The keyword overrides let tests swap a part: the sender,
the broker or database settings, the retry policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from backbone.db import NOTIFICATIONS, Pruner, make_engine, session_factory
from backbone.kafka import Producer
from backbone.settings import DatabaseSettings, KafkaSettings, RetrySettings
from notifier.adapters.metrics import CountingDeadLetterWriter, PrometheusObserver
from notifier.adapters.records import FactRecords
from notifier.adapters.repository import SqlSettlements
from notifier.adapters.smtp import SmtpSender
from notifier.adapters.templates import Renderer
from notifier.adapters.unit_of_work import SqlNotificationsUnitOfWork
from notifier.service_layer.handlers import Links, NotifyHandler, Sender
from notifier.settings import Settings

if TYPE_CHECKING:
    import faust


@dataclass
class Container:
    """Everything the worker process runs on, built once."""

    settings: Settings
    engine: AsyncEngine
    producer: Producer
    dead_letters: CountingDeadLetterWriter
    handler: FactRecords
    sender: Sender = field(repr=False)

    def consumer_app(self) -> faust.App:
        """The Faust app: one resilient agent handling what waits in batches (bounded retries,
        then <group>.dlq), and a timer pruning settled notifications past the retention."""
        from backbone.faust import create_faust_app, resilient_agent

        settings = self.settings
        app = create_faust_app(
            settings.consumer_group, settings.kafka, datadir=str(settings.data_dir)
        )
        resilient_agent(
            app,
            self.handler.handle_batch,
            topics=settings.topics,
            producer=self.producer,
            retry=settings.retry,
            dead_letters=self.dead_letters,
            batch_max_size=settings.batch_max_size,
        )
        # Settled notifications past the retention (PRUNE_*) go, at most once per interval.
        pruner = Pruner(self.engine, [NOTIFICATIONS])

        @app.timer(min(pruner.settings.interval_s, 60.0), on_leader=False)  # type: ignore[untyped-decorator]
        async def prune() -> None:
            await pruner.maybe_run()  # never raises

        return app

    async def close(self) -> None:
        """Stop the producer and release the database pool."""
        await self.producer.stop()
        await self.engine.dispose()


def build(
    settings: Settings,
    *,
    application_name: str = "notifier",
    sender: Sender | None = None,
    kafka: KafkaSettings | None = None,
    database: DatabaseSettings | None = None,
    retry: RetrySettings | None = None,
) -> Container:
    """Wire the handler to PostgreSQL, the templates and SMTP (or the `sender` given)."""
    blocks = {"kafka": kafka, "database": database, "retry": retry}
    settings = settings.model_copy(update={k: v for k, v in blocks.items() if v is not None})
    engine = make_engine(settings.database, application_name=application_name)
    sender = sender or SmtpSender(settings)
    sessions = session_factory(engine)
    handler = NotifyHandler(
        lambda: SqlNotificationsUnitOfWork(sessions),
        lambda: SqlSettlements(engine),
        Renderer(settings.message_id_domain),
        sender,
        links=Links(operator_email=settings.operator_email, checkout_url=settings.checkout_url),
        observer=PrometheusObserver(),
        settle_every=settings.settle_every,
        lanes=settings.smtp_connections,
    )
    producer = Producer(settings.kafka, client_id=f"{settings.kafka.client_id}-notifier")
    dead_letters = CountingDeadLetterWriter(producer, settings.consumer_group)
    return Container(settings, engine, producer, dead_letters, FactRecords(handler), sender)
