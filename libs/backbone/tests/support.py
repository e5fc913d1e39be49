"""Shared pieces of the backbone tests: a test schema, topic set-up for a consumer group, and the
Faust consumer path running in the test's process."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Sequence

import faust
from sqlalchemy import create_engine
from sqlmodel import SQLModel

from backbone.db import InboxEntry, OutboxEntry
from backbone.faust import DEFAULT_BATCH_MAX_SIZE, create_faust_app, resilient_agent
from backbone.kafka import BatchHandler, Producer, ensure_topics
from backbone.settings import KafkaSettings, RetrySettings
from contracts.topics import dlq_topic, retry_topic


def create_schema(database_url: str) -> None:
    """The inbox and outbox tables, plus a table where test handlers count their effects."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    tables = [InboxEntry.__table__, OutboxEntry.__table__]
    SQLModel.metadata.create_all(engine, tables=tables)  # type: ignore[arg-type]
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS effects (event_id text PRIMARY KEY, applied int NOT NULL,"
            " txid bigint NOT NULL DEFAULT txid_current())"
        )
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS deliveries"
            " (id bigserial PRIMARY KEY, event_id text NOT NULL)"
        )
    engine.dispose()


async def group_topics(
    settings: KafkaSettings, group: str, source: str, partitions: int = 3
) -> None:
    """The source topic and the group's retry and dead-letter topics."""
    await ensure_topics(
        settings,
        {source: partitions, retry_topic(group): partitions, dlq_topic(group): partitions},
    )


@contextlib.asynccontextmanager
async def faust_consumer(
    kafka: KafkaSettings,
    group: str,
    topics: Sequence[str],
    handler: BatchHandler,
    *,
    retry: RetrySettings,
    batch_max_size: int = DEFAULT_BATCH_MAX_SIZE,
) -> AsyncIterator[faust.App]:
    """The product's consumer path in this process for the block: a Faust app of group `group`
    with the resilient agent on `topics` and the group's retry topic."""
    with tempfile.TemporaryDirectory(prefix="faust-") as datadir:
        app = create_faust_app(group, kafka, datadir=datadir)
        producer = Producer(kafka, client_id=f"{group}-dlq")
        resilient_agent(
            app,
            handler,
            topics=[*topics, retry_topic(group)],
            producer=producer,
            retry=retry,
            batch_max_size=batch_max_size,
        )
        await app.start()
        try:
            yield app
        finally:
            await app.stop()
            await producer.stop()
