"""Topic creation at start-up: partition counts from the contracts registry, replication,
min.insync.replicas and retention from the deployment's configuration (KAFKA_TOPIC_*)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Self

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from backbone.logging import get_logger
from backbone.settings import KafkaSettings
from contracts.topics import all_topic_partitions, is_long_lived

log = get_logger(__name__)

SEVEN_DAYS_MS = 7 * 24 * 3600 * 1000


class TopicSettings(BaseSettings):
    """How new topics are created: the broker settings that make acks=all mean what it says.

    The defaults fit one development broker; production sets replication 3 and
    min.insync.replicas 2 (docker-compose.yml), so an acknowledged write is on two brokers.
    """

    model_config = SettingsConfigDict(env_prefix="KAFKA_TOPIC_", extra="ignore")

    replication_factor: int = Field(
        1,
        ge=1,
        description="Copies of each partition (KAFKA_TOPIC_REPLICATION_FACTOR); 3 in production.",
    )
    min_insync_replicas: int = Field(
        1,
        ge=1,
        description=(
            "Copies that must have a write before acks=all acknowledges it"
            " (KAFKA_TOPIC_MIN_INSYNC_REPLICAS); 2 in production."
        ),
    )
    retention_ms: int = Field(
        SEVEN_DAYS_MS,
        ge=-1,
        description="How long event streams keep records (KAFKA_TOPIC_RETENTION_MS); -1: forever.",
    )
    dead_letter_retention_ms: int = Field(
        -1,
        ge=-1,
        description=(
            "How long <group>.dlq topics and dlq.audit keep records"
            " (KAFKA_TOPIC_DEAD_LETTER_RETENTION_MS); -1 (the default): forever."
        ),
    )

    @model_validator(mode="after")
    def _insync_fits(self) -> Self:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                "KAFKA_TOPIC_MIN_INSYNC_REPLICAS is above KAFKA_TOPIC_REPLICATION_FACTOR:"
                " every acks=all write would be refused"
            )
        return self

    def configs_for(self, topic: str) -> dict[str, str]:
        """The topic-level configs `topic` is created with."""
        retention = self.dead_letter_retention_ms if is_long_lived(topic) else self.retention_ms
        return {
            "min.insync.replicas": str(self.min_insync_replicas),
            "retention.ms": str(retention),
        }


async def ensure_topics(
    settings: KafkaSettings,
    topics: dict[str, int] | None = None,
    *,
    timeout_s: float = 30.0,
    topic_settings: TopicSettings | None = None,
) -> dict[str, int]:
    """Create every registry topic that is missing; returns what was asked for.

    `topic_settings` defaults to KAFKA_TOPIC_* from the environment. Retried until `timeout_s`,
    as a broker that was just started may not answer yet.
    """
    wanted = topics if topics is not None else all_topic_partitions()
    creation = topic_settings if topic_settings is not None else TopicSettings()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await _create_missing(settings, wanted, creation)
        except (KafkaError, OSError) as exc:
            if time.monotonic() > deadline:
                raise
            log.info("topics.broker_not_ready", error=type(exc).__name__)
            await asyncio.sleep(0.5)
        else:
            return wanted


async def _create_missing(
    settings: KafkaSettings, wanted: dict[str, int], creation: TopicSettings
) -> None:
    admin = AIOKafkaAdminClient(**settings.client_options(), client_id="topic-setup")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=name,
                num_partitions=partitions,
                replication_factor=creation.replication_factor,
                topic_configs=creation.configs_for(name),
            )
            for name, partitions in wanted.items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
            log.info("topics.created", topics=[t.name for t in missing])
        present = sorted(name for name in wanted if name in existing)
        if present:
            await _report_drift(admin, present, creation)
    finally:
        await admin.close()


async def _report_drift(
    admin: AIOKafkaAdminClient, names: list[str], creation: TopicSettings
) -> None:
    """Warn about existing topics whose configs differ from what they would be created with.

    Only a warning: changing a live topic's retention is an operator's decision
    (`kafka-configs.sh --alter`), and the embedded broker cannot alter configs at all.
    """
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    except KafkaError as exc:
        log.info("topics.configs_unreadable", error=type(exc).__name__)
        return
    for response in responses:
        for resource in response.resources:
            name, entries = resource[3], resource[4]
            actual = {entry[0]: entry[1] for entry in entries}
            wanted = creation.configs_for(name)
            # A config the broker does not report (the embedded broker reports only what a
            # topic was created with) is no evidence of drift.
            drift = {k: actual[k] for k, v in wanted.items() if k in actual and actual[k] != v}
            if drift:
                log.warning("topics.config_drift", topic=name, actual=drift, configured=wanted)


def main() -> None:
    """`python -m backbone.kafka.admin`: create the topics (the compose init step runs this)."""
    from backbone.logging import configure_logging

    configure_logging("topic-setup")
    created = asyncio.run(ensure_topics(KafkaSettings()))
    log.info("topics.ready", count=len(created))


if __name__ == "__main__":
    main()
