"""Scenarios 5 and 6: Stripe's events delivered three times in shuffled order; forged webhooks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
import uuid
from typing import Any

import httpx
import pytest

from contracts import headers as h_
from contracts.topics import STRIPE_EVENTS
from devstack.testing import eventually, read_topic

from .harness import Harness

pytestmark = pytest.mark.e2e

# outcome(s) played on one session -> the reservation's final state after an ordered delivery
JOURNEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "paid": (("paid",), "succeeded"),
    "delayed_ok": (("delayed", "delayed_succeeded"), "succeeded"),
    "delayed_ko": (("delayed", "delayed_failed"), "failed"),
    "declined_then_paid": (("failed", "paid"), "succeeded"),
    "expired": (("expired",), "pending"),  # the hold is still valid: the slot stays the user's
}


async def test_every_event_three_times_in_shuffled_order(shared_stack: Harness) -> None:
    h = shared_stack
    before = {e["id"] for e in await h.stripe_events()}
    ingest = (await h.webhook_settings())["urls"]
    journeys = {}
    await h.webhook_settings(urls=[])  # Stripe holds every event back for now
    try:
        for name, (outcomes, _) in JOURNEYS.items():
            user = h.user(name)
            booked = await h.book(user)
            session = await h.create_session(user, [booked["id"]])
            await h.wait_status(user, booked["id"], "processing")
            for outcome in outcomes:
                await h.complete(session["sessionId"], outcome)
            journeys[name] = (user, booked)
        events = [e for e in await h.stripe_events() if e["id"] not in before]
        seed = random.randrange(1_000_000)
        deliveries = [e["id"] for e in events] * 3
        random.Random(seed).shuffle(deliveries)
        print(f"\n{len(events)} events, {len(deliveries)} deliveries, shuffle seed {seed}")
        for event_id in deliveries:
            await h.resend(event_id)
        await eventually(h.deliveries_settled, timeout=60, interval=0.2, what="deliveries")
    finally:
        await h.webhook_settings(urls=ingest)

    log = [d for d in await h.deliveries() if d["event_id"] in set(deliveries)]
    assert len(log) == len(deliveries)
    assert all(d["status_code"] == 200 for d in log), log
    for name, (user, booked) in journeys.items():
        await h.wait_status(user, booked["id"], JOURNEYS[name][1])

    async def all_applied() -> bool:  # every event reached the worker (applied or ignored)
        return {e["id"] for e in events} <= await h.applied_event_ids()

    await eventually(all_applied, timeout=30, interval=0.2, what="every event in the inbox")
    for name, (user, _) in journeys.items():
        if name == "expired":  # released, not expired: nothing to tell
            assert not await h.facts_of(user)
            assert not await h.messages_to(user.email)
        else:
            await h.assert_one_email_per_fact(user)


def _sign(payload: bytes, secret: str, at: int) -> str:
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


async def _post_headers_only(url: str, body: bytes, signature: str) -> tuple[int, str]:
    """POST the headers of a request with `body`, read the answer without sending the body."""
    parsed = httpx.URL(url)
    reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
    try:
        writer.write(
            (
                f"POST {parsed.raw_path.decode()} HTTP/1.1\r\nHost: {parsed.host}\r\n"
                f"Content-Type: application/json\r\nStripe-Signature: {signature}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        return status, (await asyncio.wait_for(reader.readexactly(length), 10)).decode()
    finally:
        writer.close()


async def test_forged_stale_and_oversized_webhooks_change_nothing(shared_stack: Harness) -> None:
    h = shared_stack
    user = h.user("forged")
    booked = await h.book(user)
    session = await h.create_session(user, [booked["id"]])
    await h.wait_status(user, booked["id"], "processing")
    paid_session = {
        **await h.stripe_session(session["sessionId"]),
        "status": "complete",
        "payment_status": "paid",
    }

    def event(**extra: Any) -> bytes:
        return json.dumps(
            {
                "id": f"evt_forged_{uuid.uuid4().hex}",
                "object": "event",
                "type": "checkout.session.completed",
                "created": int(time.time()),
                "livemode": False,
                "data": {"object": paid_session},
                **extra,
            }
        ).encode()

    secret = h.stack.config.webhook_secret
    now = int(time.time())
    attempts = {
        "signature_mismatch": (body := event(), _sign(body, "whsec_not_ours", now)),
        "timestamp_too_old": (body := event(), _sign(body, secret, now - 3600)),
        "missing_signature": (event(), ""),
    }
    url = h.url("webhook-ingest", "/webhooks/stripe")
    forged_ids = set()
    for code, (body, signature) in attempts.items():
        forged_ids.add(json.loads(body)["id"])
        headers = {"Content-Type": "application/json"}
        if signature:
            headers["Stripe-Signature"] = signature
        response = await h.http.post(url, content=body, headers=headers)
        assert 400 <= response.status_code < 500, (code, response.status_code)
        assert response.json()["error"]["code"] == code

    # Oversized: answered from the declared length, before the body is read (and then closed).
    big = event(padding="x" * (1024 * 1024 + 1))
    forged_ids.add(json.loads(big)["id"])
    status, answer = await _post_headers_only(url, big, _sign(big, secret, now))
    assert status == 413, answer
    assert json.loads(answer)["error"]["code"] == "body_too_large"

    # Nothing published, nothing changed: the topic never saw them, the reservation waits.
    records = await read_topic(h.kafka, STRIPE_EVENTS)
    assert not {r.header(h_.STRIPE_EVENT_ID) for r in records} & forged_ids
    assert (await h.reservation(user, booked["id"]))["status"] == "processing"
    # The genuine payment still goes through afterwards.
    await h.complete(session["sessionId"], "paid")
    await h.wait_status(user, booked["id"], "succeeded")
    await h.assert_one_email_per_fact(user)
    assert not forged_ids & await h.applied_event_ids()
