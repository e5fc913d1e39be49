"""Prometheus metrics every consumer and relay shares: processed, retried, dead-lettered, lag,
the outbox backlog. (How long a consumer has been stalled is backbone.readiness's.)"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_PROCESSED = Counter(
    "consumer_messages_processed_total",
    "Messages a consumer group finished with, by outcome (handled or dead_lettered).",
    ["group", "topic", "outcome"],
)
MESSAGE_RETRIES = Counter(
    "consumer_message_retries_total", "Failed attempts that were retried.", ["group", "topic"]
)
HANDLE_SECONDS = Histogram(
    "consumer_handle_seconds",
    "Time to finish one message, retries included.",
    ["group", "topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BATCH_SIZE = Histogram(
    "consumer_batch_size",
    "Messages handled together by one successful try of a batch handler.",
    ["group"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500),
)
BATCH_FALLBACKS = Counter(
    "consumer_batch_fallbacks_total",
    "Tries of a batch handler that failed, after which the batch was split in two.",
    ["group"],
)
CONSUMER_LAG = Gauge(
    "consumer_lag_messages",
    "High-water mark minus the next offset to process, per partition.",
    ["group", "topic", "partition"],
)
DEAD_LETTERS = Gauge(
    "consumer_dead_letter_messages",
    "Records in a consumer group's dead-letter topic (sum of its partitions' high-water marks"
    " minus their earliest offsets), read periodically by the group's workers.",
    ["group", "topic"],
)
OUTBOX_UNSENT = Gauge(
    "outbox_unsent_rows", "Outbox rows committed and not yet published, per service.", ["service"]
)
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_unsent_age_seconds",
    "Age of the oldest unpublished outbox row (0 when none); keeps growing while the database"
    " cannot be read.",
    ["service"],
)
RELAY_RESTARTS = Counter(
    "outbox_relay_restarts_total", "Times a relay died and was started again.", ["service"]
)
