"""Prometheus metrics of webhook-ingest."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RECEIVED = Counter(
    "webhook_ingest_received_total", "Webhook requests received on POST /webhooks/stripe."
)
PUBLISHED = Counter(
    "webhook_ingest_published_total",
    "Verified events the broker acknowledged (each answered 200).",
)
REJECTED = Counter(
    "webhook_ingest_rejected_total",
    "Requests refused with a 4xx, by reason; nothing was published for them.",
    ["reason"],
)
UNAVAILABLE = Counter(
    "webhook_ingest_publish_failures_total",
    "Verified events answered 503 because the broker did not acknowledge in time, by reason.",
    ["reason"],
)
SHED = Counter(
    "webhook_ingest_shed_total",
    "Requests answered 503 with Retry-After at once because WEBHOOK_INGEST_MAX_IN_FLIGHT"
    " publishes already awaited the broker (overload); not read, verified or published: Stripe"
    " retries them.",
)
PUBLISH_SECONDS = Histogram(
    "webhook_ingest_publish_seconds",
    "Time from produce to the broker's acknowledgement (acks=all), failures included.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS = Counter(
    "webhook_ingest_events_total",
    "Verified events by Stripe event type and outcome (published, or publish_failed: answered"
    " 503 for Stripe to retry).",
    ["type", "outcome"],
)
API_VERSION_MISMATCH = Counter(
    "webhook_ingest_api_version_mismatch_total",
    "Verified events whose api_version is not one the consumers understand (still published),"
    ' by the event\'s version ("none" when absent, "other" when not shaped like one).',
    ["api_version"],
)
