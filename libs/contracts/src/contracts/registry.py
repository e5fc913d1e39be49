"""Which models describe each topic's values, their JSON Schemas, and one decoder per topic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel, TypeAdapter

from contracts import topics
from contracts.checkout import CheckoutSessionCreatedV1, ReservationCheckoutMetadata
from contracts.deadletter import DeadLetterHeadersV1, DlqReplayAuditV1
from contracts.reservation import (
    FACT_ADAPTER,
    FACT_TYPES,
    ReservationPaymentUpdate,
    parse_fact,
)
from contracts.stripe import StripeEvent, parse_stripe_event


@dataclass(frozen=True)
class TopicContract:
    """The value contract of one topic: the models a value may be, and how to decode one."""

    topic: str
    models: tuple[type[BaseModel], ...]
    # The schema name (under schemas/) a whole value validates against.
    schema_name: str
    parse: Callable[[bytes | str], BaseModel]


TOPIC_CONTRACTS: Final[dict[str, TopicContract]] = {
    c.topic: c
    for c in (
        TopicContract(topics.STRIPE_EVENTS, (StripeEvent,), "StripeEvent", parse_stripe_event),
        TopicContract(
            topics.CHECKOUT_SESSIONS,
            (CheckoutSessionCreatedV1,),
            "CheckoutSessionCreatedV1",
            CheckoutSessionCreatedV1.model_validate_json,
        ),
        TopicContract(
            topics.RESERVATION_EVENTS, tuple(FACT_TYPES.values()), "ReservationFact", parse_fact
        ),
        TopicContract(
            topics.DLQ_AUDIT,
            (DlqReplayAuditV1,),
            "DlqReplayAuditV1",
            DlqReplayAuditV1.model_validate_json,
        ),
    )
}

# Models that never make up a whole topic value but travel inside something else: keyed by where.
EMBEDDED_MODELS: Final[dict[str, type[BaseModel]]] = {
    "stripe.checkout_session.metadata": ReservationCheckoutMetadata,
    "reservation.payment_update": ReservationPaymentUpdate,
    "dlq.headers": DeadLetterHeadersV1,
}

_UNIONS: Final[dict[str, TypeAdapter[Any]]] = {"ReservationFact": FACT_ADAPTER}


def parse_value(topic: str, data: bytes | str) -> BaseModel:
    """Decode a value of `topic` with its contract; KeyError for a topic without one."""
    return TOPIC_CONTRACTS[topic].parse(data)


def all_models() -> dict[str, type[BaseModel]]:
    """Every model with an exported schema, by class name."""
    found: dict[str, type[BaseModel]] = {}
    for contract in TOPIC_CONTRACTS.values():
        for model in contract.models:
            found[model.__name__] = model
    for model in EMBEDDED_MODELS.values():
        found[model.__name__] = model
    return dict(sorted(found.items()))


def schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema (draft 2020-12, validation mode) of every model and union, by name."""
    out: dict[str, dict[str, Any]] = {
        name: model.model_json_schema() for name, model in all_models().items()
    }
    for name, adapter in _UNIONS.items():
        out[name] = {"title": name, **adapter.json_schema()}
    return dict(sorted(out.items()))
