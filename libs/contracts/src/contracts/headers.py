"""Kafka header names, and the header sets of our records built in one place, so producers and
consumers never disagree on a spelling or on which headers a record carries."""

from __future__ import annotations

from typing import Final
from uuid import UUID

# Every message we produce carries these where they apply.
EVENT_ID: Final = "event-id"
EVENT_TYPE: Final = "event-type"
CORRELATION_ID: Final = "correlation-id"
CONTENT_TYPE: Final = "content-type"

JSON: Final = "application/json"

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


def fact_headers(
    event_id: UUID | str,
    event_type: str,
    correlation_id: str | None = None,
    *,
    request_id: str | None = None,
) -> list[tuple[str, str]]:
    """The headers of a record carrying one of our facts (a JSON contract model): its id, its
    type, the correlation id and the request id that led to it when there are, the content type.

    Text values: the outbox stores them so and the relay encodes them when it publishes.
    """
    headers = [(EVENT_ID, str(event_id)), (EVENT_TYPE, event_type)]
    if correlation_id:
        headers.append((CORRELATION_ID, correlation_id))
    headers.append((CONTENT_TYPE, JSON))
    if request_id:
        headers.append((REQUEST_ID, request_id))
    return headers


def stripe_event_headers(
    *,
    event_id: str,
    event_type: str,
    livemode: bool | None,
    received_at: str,
    request_id: str,
    correlation_id: str,
    api_version: str | None,
) -> list[tuple[str, bytes]]:
    """The headers of a Stripe event's record on stripe.events, as webhook-ingest writes them and
    reconciliation writes them again for an event it republishes.

    The Stripe-specific set (event id and type, livemode, when and by which request it arrived,
    the API version when Stripe gave one), then the same event id, type, correlation id (the
    object the event is about, the key) and content type every record carries.
    """
    headers = [
        (STRIPE_EVENT_ID, event_id),
        (STRIPE_EVENT_TYPE, event_type),
        (STRIPE_LIVEMODE, "true" if livemode else "false"),
        (RECEIVED_AT, received_at),
        (REQUEST_ID, request_id),
        (EVENT_ID, event_id),
        (EVENT_TYPE, event_type),
        (CORRELATION_ID, correlation_id),
        (CONTENT_TYPE, JSON),
    ]
    if api_version is not None:
        headers.append((STRIPE_API_VERSION, api_version))
    return [(name, value.encode()) for name, value in headers]
