"""Dead-letter headers to and from Kafka headers, and the replay audit record."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from contracts import headers, stripe, topics
from contracts.deadletter import (
    MAX_ERROR_MESSAGE_CHARS,
    DeadLetterHeadersV1,
    DlqReplayAuditV1,
    without_dead_letter_headers,
)
from contracts.registry import parse_value

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(where: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / where / f"{name}.json").read_text())
    return data


def stripe_example(name: str) -> stripe.StripeEvent:
    return stripe.parse_stripe_event((EXAMPLES / "stripe.events" / f"{name}.json").read_bytes())


# --- dead letters -------------------------------------------------------------------------------


def test_dead_letter_headers_round_trip() -> None:
    dl = DeadLetterHeadersV1.model_validate(example("dlq.headers", "dead_letter"))
    encoded = dl.to_headers()
    assert [name for name, _ in encoded] == list(headers.DLQ_HEADERS)
    assert all(isinstance(value, bytes) for _, value in encoded)
    original = [(headers.EVENT_ID, b"evt_1"), (headers.EVENT_TYPE, b"charge.refunded")]
    record = original + encoded
    assert DeadLetterHeadersV1.from_headers(record) == dl
    assert without_dead_letter_headers(record) == original


def test_dead_letter_error_message_is_bounded_and_last_header_wins() -> None:
    dl = DeadLetterHeadersV1(
        original_topic=topics.STRIPE_EVENTS,
        original_partition=0,
        original_offset=7,
        consumer_group=topics.RESERVATION_GROUP,
        error_class="ValueError",
        error_message="é" * 10_000,
        attempts=5,
        failed_at=datetime.now(UTC),
    )
    assert len(dl.error_message) == MAX_ERROR_MESSAGE_CHARS
    encoded = dl.to_headers()
    assert headers.DLQ_ORIGINAL_TIMESTAMP not in dict(encoded)
    again = [*encoded, (headers.DLQ_ATTEMPTS, b"6")]
    assert DeadLetterHeadersV1.from_headers(again).attempts == 6


def test_from_headers_names_what_is_missing() -> None:
    with pytest.raises(ValueError, match=headers.DLQ_ERROR_CLASS):
        DeadLetterHeadersV1.from_headers([(headers.DLQ_ORIGINAL_TOPIC, b"stripe.events")])


def test_dlq_replay_audit_parses() -> None:
    audit = parse_value(topics.DLQ_AUDIT, json.dumps(example("dlq.audit", "dry_run")))
    assert isinstance(audit, DlqReplayAuditV1)
    assert audit.dry_run
