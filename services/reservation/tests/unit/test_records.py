"""Decoding the worker's records (adapters.records) without a broker: which topic or header
says what a record is, what a Stripe event means, and what no retry can fix (PermanentError)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from backbone.kafka import Message, PermanentError
from contracts import headers as h
from contracts.checkout import ReservationCheckoutMetadata
from contracts.topics import CHECKOUT_SESSIONS, RESERVATION_EVENTS, STRIPE_EVENTS, retry_topic
from reservation.adapters.records import decode
from reservation.domain.payments import Stage
from reservation.service_layer.payments import SessionSignal, Unhandled

OURS = ReservationCheckoutMetadata.model_validate(
    {
        "userId": "user_1",
        "userEmail": "user_1@example.test",
        "type": "reservation_payment",
        "reservationIds": ["r1", "r2"],
        "servicesCount": 2,
        "servicesTotal": 30000,
        "cartCount": 0,
        "cartTotal": 0,
        "orderTotal": 30000,
    }
).to_stripe_metadata()


def _event(event_type: str, obj: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "id": "evt_1",
            "type": event_type,
            "created": 1_900_000_000,
            "livemode": False,
            "data": {"object": obj},
        }
    ).encode()


def _session(**fields: Any) -> dict[str, Any]:
    return {"id": "cs_1", "object": "checkout.session", "created": 1_899_999_000, **fields}


def _record(topic: str, value: bytes | None, *headers: tuple[str, str]) -> Message:
    return Message(topic, 0, 7, b"cs_1", value, tuple((k, v.encode()) for k, v in headers))


def test_a_paid_session_of_ours_is_a_paid_signal() -> None:
    value = _event(
        "checkout.session.completed",
        _session(metadata=OURS, payment_status="paid", amount_total=30000, currency="eur"),
    )
    signal = decode(_record(STRIPE_EVENTS, value, (h.CORRELATION_ID, "corr-1")))
    assert isinstance(signal, SessionSignal)
    assert (signal.event_id, signal.session_id, signal.stage) == ("evt_1", "cs_1", Stage.PAID)
    assert signal.reservation_ids == ["r1", "r2"]
    assert (signal.amount_total, signal.step, signal.correlation_id) == (
        30000,
        "completed",
        "corr-1",
    )


def test_a_replay_from_the_retry_topic_is_read_by_its_original_topic() -> None:
    value = _event("checkout.session.expired", _session(metadata=OURS))
    record = _record(retry_topic("reservation"), value, (h.DLQ_ORIGINAL_TOPIC, STRIPE_EVENTS))
    signal = decode(record)
    assert isinstance(signal, SessionSignal)
    assert signal.stage is Stage.EXPIRED
    # Without the dead-letter headers, Stripe's own header still says what it is.
    signal = decode(_record(retry_topic("reservation"), value, (h.STRIPE_EVENT_ID, "evt_1")))
    assert isinstance(signal, SessionSignal)


@pytest.mark.parametrize(
    ("event_type", "obj"),
    [
        ("customer.created", {"id": "cus_1", "object": "customer"}),
        ("checkout.session.completed", _session(metadata={"other": "integration"})),
        ("checkout.session.updated", _session(metadata=OURS)),
    ],
)
def test_what_we_do_not_act_on_is_unhandled(event_type: str, obj: dict[str, Any]) -> None:
    signal = decode(_record(STRIPE_EVENTS, _event(event_type, obj)))
    assert signal == Unhandled("evt_1", None)


@pytest.mark.parametrize(
    ("record", "says"),
    [
        (_record(STRIPE_EVENTS, None), "without a value"),
        (_record(STRIPE_EVENTS, b"not json"), "malformed Stripe event"),
        (_record(STRIPE_EVENTS, _event("charge.dispute.created", {"id": 1})), "malformed"),
        (_record(CHECKOUT_SESSIONS, b"{}"), "malformed CheckoutSessionCreatedV1"),
        (_record(RESERVATION_EVENTS, b"{}"), "no handler for a record from"),
    ],
)
def test_what_no_retry_can_fix_is_permanent(record: Message, says: str) -> None:
    with pytest.raises(PermanentError, match=says):
        decode(record)
