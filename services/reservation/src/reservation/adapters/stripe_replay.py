"""Republishing Stripe's events to stripe.events exactly as webhook-ingest writes them (same key,
same headers): how reconciliation hands a missed event back to the worker's idempotent path."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from backbone.kafka import OutgoingRecord
from contracts import headers as h
from contracts.stripe import StripeEvent, event_key
from contracts.topics import STRIPE_EVENTS


def replay_record(event: dict[str, Any], run_id: str) -> OutgoingRecord:
    """The record webhook-ingest would have written for `event` (same key and headers)."""
    parsed = StripeEvent.model_validate(event)
    key = event_key(parsed)
    headers = h.stripe_event_headers(
        event_id=parsed.id,
        event_type=parsed.type,
        livemode=parsed.livemode,
        received_at=datetime.now(UTC).isoformat(),
        request_id=run_id,
        correlation_id=key,
        api_version=parsed.api_version or None,
    )
    return OutgoingRecord(
        STRIPE_EVENTS,
        json.dumps(event, separators=(",", ":")).encode(),
        key.encode(),
        headers,
    )


def republisher(
    send_many: Callable[[Sequence[OutgoingRecord]], Awaitable[object]],
) -> Callable[[Sequence[dict[str, Any]], str], Awaitable[object]]:
    """`republish(events, run_id)` on a producer's `send_many` (the scheduled reconciliation's
    port: it hands over Stripe's events, never a Kafka record)."""

    async def republish(events: Sequence[dict[str, Any]], run_id: str) -> object:
        return await send_many([replay_record(e, run_id) for e in events])

    return republish
