"""A Faust app factory whose settings hold on Apache Kafka and on the embedded broker alike."""

from __future__ import annotations

from typing import Any

import faust

from backbone.logging import faust_logging_config
from backbone.settings import KafkaSettings


def create_faust_app(
    app_id: str,
    kafka: KafkaSettings,
    *,
    commit_every: int = 100,
    commit_interval_s: float = 1.0,
    **overrides: Any,
) -> faust.App:
    """A stateless Faust app: consumer group `app_id`, raw bytes, acks=all, no Tables.

    - Group sessions are short (the broker's session timeout governs time to Ready and how soon a
      dead worker's partitions move), commits frequent (a smaller redelivery window after a kill).
    - Topics are declared by our start-up code from the contracts registry, never by Faust, and
      the leader topic is off: neither matters to stateless agents.
    """
    options: dict[str, Any] = {
        "broker": [f"kafka://{server.strip()}" for server in kafka.bootstrap_servers.split(",")],
        "broker_session_timeout": kafka.session_timeout_ms / 1000,
        "broker_heartbeat_interval": kafka.heartbeat_interval_ms / 1000,
        "broker_request_timeout": max(kafka.request_timeout_ms / 1000, 10.0),
        "broker_max_poll_records": kafka.max_poll_records,
        "broker_commit_every": commit_every,
        "broker_commit_interval": commit_interval_s,
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        "topic_allow_declare": False,
        "topic_disable_leader": True,
        "web_enabled": False,
        "key_serializer": "raw",
        "value_serializer": "raw",
        # Keep our log format (JSON off a terminal) once the worker configures logging.
        "logging_config": faust_logging_config(),
    }
    if kafka.sasl_mechanism:
        options["broker_credentials"] = faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value() if kafka.sasl_password else None,
            mechanism=kafka.sasl_mechanism,
        )
    options.update(overrides)
    return faust.App(app_id, **options)
