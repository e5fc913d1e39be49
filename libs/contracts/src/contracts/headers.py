"""Kafka header names: one place, so producers and consumers never disagree on a spelling."""

from __future__ import annotations

from typing import Final

# Every message we produce carries these where they apply.
EVENT_ID: Final = "event-id"
EVENT_TYPE: Final = "event-type"
CORRELATION_ID: Final = "correlation-id"
CONTENT_TYPE: Final = "content-type"

# Set by webhook-ingest on stripe.events.
STRIPE_EVENT_ID: Final = "stripe-event-id"
STRIPE_EVENT_TYPE: Final = "stripe-event-type"
STRIPE_API_VERSION: Final = "stripe-api-version"
STRIPE_LIVEMODE: Final = "stripe-livemode"
RECEIVED_AT: Final = "received-at"
REQUEST_ID: Final = "request-id"

# Set by the outbox relay: lets a restarted relay recognise what it already published.
OUTBOX_ID: Final = "outbox-id"

# The dead-letter header set, added beside the original headers, which stay untouched.
DLQ_ORIGINAL_TOPIC: Final = "dlq-original-topic"
DLQ_ORIGINAL_PARTITION: Final = "dlq-original-partition"
DLQ_ORIGINAL_OFFSET: Final = "dlq-original-offset"
DLQ_ORIGINAL_TIMESTAMP: Final = "dlq-original-timestamp"
DLQ_CONSUMER_GROUP: Final = "dlq-consumer-group"
DLQ_ERROR_CLASS: Final = "dlq-error-class"
DLQ_ERROR_MESSAGE: Final = "dlq-error-message"
DLQ_ATTEMPTS: Final = "dlq-attempts"
DLQ_FAILED_AT: Final = "dlq-failed-at"

DLQ_HEADERS: Final = (
    DLQ_ORIGINAL_TOPIC,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_TIMESTAMP,
    DLQ_CONSUMER_GROUP,
    DLQ_ERROR_CLASS,
    DLQ_ERROR_MESSAGE,
    DLQ_ATTEMPTS,
    DLQ_FAILED_AT,
)

# Added by `dlq replay` to what it writes into <group>.retry.
REPLAY_ID: Final = "dlq-replay-id"
REPLAYED_AT: Final = "dlq-replayed-at"
REPLAYED_BY: Final = "dlq-replayed-by"
