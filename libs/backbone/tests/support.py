"""Shared pieces of the backbone tests: a test schema and topic set-up for a consumer group."""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlmodel import SQLModel

from backbone.db.inbox import InboxEntry
from backbone.db.outbox import OutboxEntry
from backbone.kafka.admin import ensure_topics
from backbone.settings import KafkaSettings
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
