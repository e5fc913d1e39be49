"""The few fields of a verified body that ingest needs, read with one json.loads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from backbone.body_limits import nests_deeper
from contracts.stripe import StripeEvent, StripeEventData, event_key

# Stripe's events nest about ten levels; far deeper is no event of Stripe's, and a parser (ours, or
# a consumer's: pydantic stops at 200) recurses on it. Refused with a 400, never a retryable 500.
MAX_DEPTH = 64


class InvalidEvent(Exception):
    """The verified body is not a Stripe event we can route."""


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What goes into the key and headers of the record."""

    id: str
    type: str
    api_version: str | None
    livemode: bool | None
    key: str


def read_event(body: bytes) -> EventFacts:
    """Parse once and pick the routing fields; InvalidEvent when the shape is wrong.

    The key comes from `contracts.stripe.event_key` on an unvalidated envelope (model_construct):
    only the fields it reads are checked here, the rest of the event is left to its consumers.
    """
    if nests_deeper(body, MAX_DEPTH):
        raise InvalidEvent(f"body nests deeper than {MAX_DEPTH} levels")
    try:
        doc: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidEvent("body is not valid JSON") from exc
    if not isinstance(doc, dict):
        raise InvalidEvent("body is not a JSON object")
    event_id = doc.get("id")
    event_type = doc.get("type")
    data = doc.get("data")
    if not isinstance(event_id, str) or not event_id:
        raise InvalidEvent("event has no id")
    if not isinstance(event_type, str) or not event_type:
        raise InvalidEvent("event has no type")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise InvalidEvent("event has no data.object")
    api_version = doc.get("api_version")
    livemode = doc.get("livemode")
    envelope = StripeEvent.model_construct(
        id=event_id,
        type=event_type,
        api_version=api_version if isinstance(api_version, str) else None,
        created=0,  # not read by event_key; the value on the topic keeps the real one
        livemode=bool(livemode),
        data=StripeEventData.model_construct(object=data["object"], previous_attributes=None),
    )
    return EventFacts(
        id=event_id,
        type=event_type,
        api_version=api_version if isinstance(api_version, str) else None,
        livemode=livemode if isinstance(livemode, bool) else None,
        key=event_key(envelope),
    )
