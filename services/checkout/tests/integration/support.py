"""Helpers of the checkout integration tests: reading our facts off the topic."""

from __future__ import annotations

from dataclasses import dataclass

from backbone.kafka import Message
from backbone.settings import KafkaSettings
from contracts import headers as h
from contracts.checkout import CHECKOUT_SESSION_CREATED_V1, CheckoutSessionCreatedV1
from contracts.topics import CHECKOUT_SESSIONS
from devstack.testing import eventually, read_topic


@dataclass(frozen=True)
class Published:
    """One CheckoutSessionCreatedV1 record as it is on the topic."""

    key: bytes | None
    fact: CheckoutSessionCreatedV1
    message: Message


async def facts_for(kafka: KafkaSettings, user_id: str) -> list[Published]:
    """Every CheckoutSessionCreatedV1 on the topic for `user_id` (the topic is shared)."""
    found = []
    for message in await read_topic(kafka, CHECKOUT_SESSIONS):
        if message.header(h.EVENT_TYPE) != CHECKOUT_SESSION_CREATED_V1:
            continue
        fact = CheckoutSessionCreatedV1.model_validate_json(message.value or b"{}")
        if fact.user_id == user_id:
            found.append(Published(message.key, fact, message))
    return found


async def published(kafka: KafkaSettings, user_id: str, count: int = 1) -> list[Published]:
    """Wait until `count` facts for `user_id` are on the topic; return them (exactly `count`)."""

    async def probe() -> list[Published]:
        found = await facts_for(kafka, user_id)
        return found if len(found) >= count else []

    found = await eventually(probe, timeout=15, what=f"{count} fact(s) for {user_id}")
    assert len(found) == count, found
    return found
