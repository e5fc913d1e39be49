"""Reconcile's pure parts: the window option and the replayed record's key and headers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from contracts import headers as h
from contracts.topics import STRIPE_EVENTS
from reservation.adapters.stripe_replay import replay_record
from reservation.entrypoints.reconcile import parse_window

EXAMPLES = Path(__file__).parents[4] / "libs" / "contracts" / "examples" / "stripe.events"


def test_parse_window() -> None:
    assert parse_window("24h") == 86400
    assert parse_window("90m") == 5400
    assert parse_window("30d") == 30 * 86400
    for bad in ("31d", "0h", "yesterday", "24"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_window(bad)


def test_replayed_record_matches_what_ingest_writes() -> None:
    event = json.loads((EXAMPLES / "checkout_session_completed_paid.json").read_text())
    record = replay_record(event, "reconcile-1")
    headers = {k: v.decode() for k, v in record.headers}
    assert record.topic == STRIPE_EVENTS
    assert record.key == event["data"]["object"]["id"].encode()
    assert json.loads(record.value or b"") == event
    assert headers[h.STRIPE_EVENT_ID] == headers[h.EVENT_ID] == event["id"]
    assert headers[h.STRIPE_EVENT_TYPE] == "checkout.session.completed"
    assert headers[h.STRIPE_API_VERSION] == event["api_version"]
    assert headers[h.REQUEST_ID] == "reconcile-1"
    assert h.RECEIVED_AT in headers
