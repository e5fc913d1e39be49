"""The registry covers every topic; the reservation fact union discriminates by event_type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from contracts import stripe, topics
from contracts.registry import TOPIC_CONTRACTS
from contracts.reservation import (
    FACT_TYPES,
    OrderConfirmedV1,
    ReservationConfirmedV1,
    ReservationFlaggedForReviewV1,
    UnknownFactTypeError,
    parse_fact,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(where: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / where / f"{name}.json").read_text())
    return data


def stripe_example(name: str) -> stripe.StripeEvent:
    return stripe.parse_stripe_event((EXAMPLES / "stripe.events" / f"{name}.json").read_bytes())


# --- registry and fact union --------------------------------------------------------------------


def test_registry_covers_every_topic() -> None:
    assert set(TOPIC_CONTRACTS) == set(topics.TOPICS)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("reservation.events/*.json")), ids=str)
def test_union_discriminates(path: Path) -> None:
    payload = json.loads(path.read_text())
    fact = parse_fact(path.read_bytes())
    assert type(fact) is FACT_TYPES[payload["event_type"]]
    assert str(fact.event_id) == payload["event_id"]


def test_union_picks_by_event_type_not_by_shape() -> None:
    # Confirmed fields under a flagged event_type fail as flagged, never parse as confirmed.
    payload = example("reservation.events", "reservation_confirmed")
    payload["event_type"] = "reservation.flagged_for_review.v1"
    with pytest.raises(ValidationError, match="expected_amount"):
        parse_fact(json.dumps(payload))


def test_unknown_event_type_is_a_clear_error() -> None:
    payload = example("reservation.events", "reservation_confirmed")
    payload["event_type"] = "reservation.confirmed.v2"
    with pytest.raises(UnknownFactTypeError, match=r"'reservation.confirmed.v2'.*known:") as info:
        parse_fact(json.dumps(payload))
    assert info.value.event_type == "reservation.confirmed.v2"
    assert isinstance(info.value, ValueError)


def test_missing_event_type_is_a_validation_error() -> None:
    payload = example("reservation.events", "reservation_confirmed")
    del payload["event_type"]
    with pytest.raises(ValidationError, match="event_type"):
        parse_fact(json.dumps(payload))


def test_partition_keys() -> None:
    confirmed = parse_fact(json.dumps(example("reservation.events", "reservation_confirmed")))
    assert isinstance(confirmed, ReservationConfirmedV1)
    assert confirmed.partition_key() == confirmed.reservation_id
    order = parse_fact(json.dumps(example("reservation.events", "order_confirmed")))
    assert isinstance(order, OrderConfirmedV1)
    assert order.partition_key() == order.order_id


def test_producer_need_not_repeat_event_type() -> None:
    payload = example("reservation.events", "reservation_flagged_for_review")
    del payload["event_type"]
    payload["event_id"] = str(uuid4())
    fact = ReservationFlaggedForReviewV1.model_validate(payload)
    assert parse_fact(fact.model_dump_json()) == fact


def test_slot_must_be_ordered() -> None:
    payload = example("reservation.events", "reservation_confirmed")
    payload["ends_at"] = payload["starts_at"]
    with pytest.raises(ValidationError, match="ends_at"):
        parse_fact(json.dumps(payload))
