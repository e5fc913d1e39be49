"""Prometheus metrics every consumer shares: processed, retried, dead-lettered, lag."""

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
