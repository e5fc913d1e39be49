"""The header sets of our records, built in one place: facts, and Stripe events on stripe.events."""

from __future__ import annotations

from uuid import uuid4

from contracts import headers as h


def test_a_fact_carries_its_id_type_correlation_and_content_type() -> None:
    event_id = uuid4()
    headers = h.fact_headers(event_id, "reservation.confirmed.v1", "cs_1", request_id="req-1")
    assert headers == [
        (h.EVENT_ID, str(event_id)),
        (h.EVENT_TYPE, "reservation.confirmed.v1"),
        (h.CORRELATION_ID, "cs_1"),
        (h.CONTENT_TYPE, "application/json"),
        (h.REQUEST_ID, "req-1"),
    ]


def test_a_fact_without_correlation_or_request_id_leaves_those_headers_out() -> None:
    headers = dict(h.fact_headers("e-1", "order.confirmed.v1"))
    assert headers == {
        h.EVENT_ID: "e-1",
        h.EVENT_TYPE: "order.confirmed.v1",
        h.CONTENT_TYPE: "application/json",
    }


def test_a_stripe_event_record_carries_stripe_and_common_headers_as_bytes() -> None:
    common = {
        "event_id": "evt_1",
        "event_type": "checkout.session.completed",
        "received_at": "2026-12-06T00:00:00.000+00:00",
        "request_id": "req-1",
        "correlation_id": "cs_1",
    }
    headers = dict(h.stripe_event_headers(**common, livemode=None, api_version="2025-01-01"))
    assert headers == {
        h.STRIPE_EVENT_ID: b"evt_1",
        h.STRIPE_EVENT_TYPE: b"checkout.session.completed",
        h.STRIPE_LIVEMODE: b"false",
        h.RECEIVED_AT: b"2026-12-06T00:00:00.000+00:00",
        h.REQUEST_ID: b"req-1",
        h.EVENT_ID: b"evt_1",
        h.EVENT_TYPE: b"checkout.session.completed",
        h.CORRELATION_ID: b"cs_1",
        h.CONTENT_TYPE: b"application/json",
        h.STRIPE_API_VERSION: b"2025-01-01",
    }
    live = dict(h.stripe_event_headers(**common, livemode=True, api_version=None))
    assert live[h.STRIPE_LIVEMODE] == b"true"
    assert h.STRIPE_API_VERSION not in live
