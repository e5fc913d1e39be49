"""The composition root: the only place that builds the notifier's real adapters."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from backbone.db.engine import make_engine, session_factory
from backbone.kafka import Producer
from backbone.settings import DatabaseSettings, KafkaSettings, RetrySettings
from notifier.adapters.metrics import PrometheusObserver
from notifier.adapters.records import FactRecords
from notifier.adapters.smtp import SmtpSender
from notifier.adapters.templates import Renderer
from notifier.adapters.unit_of_work import SqlNotificationsUnitOfWork
from notifier.service_layer.handlers import Links, NotifyHandler, Sender
from notifier.settings import NotifierSettings


@dataclass
class Notifier:
    """Everything the worker process runs on."""

    settings: NotifierSettings
    kafka: KafkaSettings
    retry: RetrySettings
    engine: AsyncEngine
    producer: Producer
    handler: FactRecords
    sender: Sender = field(repr=False)


def bootstrap(
    settings: NotifierSettings,
    *,
    kafka: KafkaSettings | None = None,
    database: DatabaseSettings | None = None,
    retry: RetrySettings | None = None,
    sender: Sender | None = None,
) -> Notifier:
    """Wire the handler to PostgreSQL, the templates and SMTP (or the `sender` given)."""
    kafka = kafka or KafkaSettings()
    engine = make_engine(database or DatabaseSettings(), application_name="notifier")
    sender = sender or SmtpSender(settings)
    sessions = session_factory(engine)
    handler = NotifyHandler(
        lambda: SqlNotificationsUnitOfWork(sessions),
        Renderer(settings.message_id_domain),
        sender,
        Links(operator_email=settings.operator_email, checkout_url=settings.checkout_url),
        PrometheusObserver(),
        settle_every=settings.settle_every,
        lanes=settings.smtp_connections,
    )
    return Notifier(
        settings=settings,
        kafka=kafka,
        retry=retry or RetrySettings(),
        engine=engine,
        producer=Producer(kafka, client_id=f"{kafka.client_id}-notifier"),
        handler=FactRecords(handler),
        sender=sender,
    )
