"""Topics are created with the replication, min.insync.replicas and retention of the
configuration (KAFKA_TOPIC_*), dead-letter and audit topics with the long retention; on the
embedded broker, which stores topic configs without applying them."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from pydantic import ValidationError

from backbone.kafka import TopicSettings, ensure_topics
from backbone.settings import KafkaSettings
from contracts.topics import (
    CHECKOUT_SESSIONS,
    DLQ_AUDIT,
    NOTIFIER_GROUP,
    RESERVATION_GROUP,
    STRIPE_EVENTS,
    dlq_topic,
    is_long_lived,
    retry_topic,
)
from devstack.infra import Provided

pytestmark = pytest.mark.integration

DAY_MS = 24 * 3600 * 1000


async def _configs(kafka: KafkaSettings, names: list[str]) -> dict[str, dict[str, str]]:
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    finally:
        await admin.close()
    return {
        resource[3]: {entry[0]: entry[1] for entry in resource[4]}
        for response in responses
        for resource in response.resources
    }


def test_dead_letter_and_audit_topics_are_the_long_lived_ones() -> None:
    assert is_long_lived(DLQ_AUDIT)
    assert is_long_lived(dlq_topic(RESERVATION_GROUP))
    assert is_long_lived(dlq_topic(NOTIFIER_GROUP))
    assert is_long_lived("any-group.dlq")
    for name in (STRIPE_EVENTS, CHECKOUT_SESSIONS, retry_topic(RESERVATION_GROUP)):
        assert not is_long_lived(name)


def test_settings_come_from_the_environment_and_refuse_an_impossible_pair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_TOPIC_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("KAFKA_TOPIC_MIN_INSYNC_REPLICAS", "2")
    monkeypatch.setenv("KAFKA_TOPIC_RETENTION_MS", str(3 * DAY_MS))
    settings = TopicSettings()
    assert (settings.replication_factor, settings.min_insync_replicas) == (3, 2)
    assert settings.configs_for(STRIPE_EVENTS) == {
        "min.insync.replicas": "2",
        "retention.ms": str(3 * DAY_MS),
    }
    assert settings.configs_for(DLQ_AUDIT)["retention.ms"] == "-1"  # forever by default
    monkeypatch.setenv("KAFKA_TOPIC_REPLICATION_FACTOR", "1")
    with pytest.raises(ValidationError, match="MIN_INSYNC_REPLICAS"):
        TopicSettings()


async def test_topics_are_created_with_the_configured_settings(
    kafka_settings: KafkaSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = uuid.uuid4().hex[:8]
    stream, dead, audit_like = f"adm-{tag}", dlq_topic(f"adm-{tag}"), f"adm-retry-{tag}.retry"
    monkeypatch.setenv("KAFKA_TOPIC_RETENTION_MS", str(2 * DAY_MS))
    monkeypatch.setenv("KAFKA_TOPIC_DEAD_LETTER_RETENTION_MS", str(400 * DAY_MS))
    monkeypatch.setenv("KAFKA_TOPIC_MIN_INSYNC_REPLICAS", "1")

    await ensure_topics(kafka_settings, {stream: 2, dead: 2, audit_like: 1})
    # Asked again (as every process does at start-up): nothing changes, nothing fails.
    await ensure_topics(kafka_settings, {stream: 2, dead: 2, audit_like: 1})

    configs = await _configs(kafka_settings, [stream, dead, audit_like])
    assert configs[stream]["retention.ms"] == str(2 * DAY_MS)
    assert configs[audit_like]["retention.ms"] == str(2 * DAY_MS)
    assert configs[dead]["retention.ms"] == str(400 * DAY_MS)
    assert {c["min.insync.replicas"] for c in configs.values()} == {"1"}


async def test_production_replication_is_accepted_by_the_embedded_broker(
    kafka_settings: KafkaSettings, kafka_infra: Provided
) -> None:
    if kafka_infra.origin != "embedded":
        pytest.skip("a single Apache Kafka broker refuses replication 3, rightly")
    tag = uuid.uuid4().hex[:8]
    production = TopicSettings(replication_factor=3, min_insync_replicas=2)

    await ensure_topics(kafka_settings, {f"adm3-{tag}": 1}, topic_settings=production)

    configs = await _configs(kafka_settings, [f"adm3-{tag}"])
    assert configs[f"adm3-{tag}"]["min.insync.replicas"] == "2"
    assert configs[f"adm3-{tag}"]["retention.ms"] == str(7 * DAY_MS)
