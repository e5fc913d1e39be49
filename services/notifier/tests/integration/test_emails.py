"""Each fact type becomes exactly one e-mail with the right recipient, subject and content."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from contracts import headers as h
from devstack.testing import eventually, read_topic

from .conftest import Stack
from .support import (
    confirmed,
    expired,
    flagged,
    mails_to,
    metric,
    notification,
    order,
    payment_failed,
    publish,
    refunded,
)

pytestmark = pytest.mark.integration


async def test_each_fact_type_sends_one_message(stack: Stack, user: Callable[[str], str]) -> None:
    facts = {
        "confirmed": confirmed(stack.unique, user("confirmed")),
        "failed": payment_failed(stack.unique, user("failed")),
        "expired": expired(stack.unique, user("expired")),
        "refunded": refunded(stack.unique, user("refunded")),
        "flagged": flagged(stack.unique, user("flagged")),
        "order": order(stack.unique, user("order")),
    }
    unknown = b'{"event_type": "reservation.rescheduled.v9", "event_id": "x"}'
    malformed = b'{"event_type": "reservation.confirmed.v1", "event_id": "not-a-uuid"}'
    await publish(stack.kafka, stack.topic, *facts.values(), raw=[unknown, malformed])
    stack.start_worker()

    recipients = {kind: f"{kind}-{stack.unique}@example.test" for kind in facts}
    recipients["flagged"] = stack.operator

    async def all_sent() -> dict[str, list[dict[str, object]]]:
        found = {kind: await mails_to(stack.api, to) for kind, to in recipients.items()}
        return found if all(found.values()) else {}

    mails = await eventually(all_sent, timeout=60, what=lambda: f"6 e-mails\n{stack.output()}")
    by_kind = {kind: m[0] for kind, m in mails.items()}
    assert all(len(m) == 1 for m in mails.values())

    for kind, fact in facts.items():
        mail = by_kind[kind]
        assert mail["MessageID"] == f"{fact.event_id}@notifier.payment-backbone"
        row = notification(stack.database_url, fact.event_id)
        assert row is not None
        assert row["status"] == "sent"
        assert row["attempts"] == 1

    c = by_kind["confirmed"]
    assert c["Subject"] == f"Booking confirmed: Mixing (RSV-{stack.unique[:6].upper()})"
    for part in (c["Text"], c["HTML"]):
        assert "Mixing" in part
        assert "€150.00" in part
        assert "Friday 17 May 2030, 14:00-16:00 (UTC+00:00)" in part
        assert f"RSV-{stack.unique[:6].upper()}" in part

    f = by_kind["failed"]
    assert f["Subject"] == "Payment failed for your Mixing booking"
    assert "What to do next" in f["Text"]
    assert "Your card was declined." in f["Text"]
    assert 'href="http://shop.test/checkout"' in f["HTML"]

    assert by_kind["expired"]["Subject"] == "Your Mixing hold has expired"
    assert "free again" in by_kind["expired"]["Text"]

    r = by_kind["refunded"]
    assert r["Subject"] == "Refund issued for your Mixing booking"
    assert "€150.00" in r["Text"]
    assert f"re_{stack.unique}" in r["Text"]
    assert "given to someone else" in r["Text"]

    fl = by_kind["flagged"]
    assert fl["Subject"].startswith("[review] Reservation res-")
    assert "amount_mismatch" in fl["Subject"]
    assert "€150.00" in fl["Text"]
    assert "€15.00" in fl["Text"]
    assert f"flagged-{stack.unique}@example.test" in fl["Text"]
    assert await mails_to(stack.api, f"flagged-{stack.unique}@example.test") == []

    o = by_kind["order"]
    assert o["Subject"] == "Order confirmed: 2 beat(s)"
    for text in ("Midnight Tape", "€29.99", "Neon Rain", "€19.99", "€49.98"):
        assert text in o["Text"]
        assert text in o["HTML"]

    # The unknown fact type was acknowledged without an e-mail; the malformed one dead-lettered
    # at once (no retries can fix it).
    [dead] = await read_topic(stack.kafka, stack.dlq)
    assert dead.value == malformed
    assert dead.header(h.DLQ_ATTEMPTS) == "1"
    assert dead.header(h.DLQ_ERROR_CLASS) == "backbone.kafka.retry.PermanentError"

    base = f"http://127.0.0.1:{stack.http_port}"
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert (await http.get("/readyz")).status_code == 200
        page = (await http.get("/metrics")).text
    assert metric(page, "reservation_confirmed", "sent") == 1
    assert metric(page, "order_confirmed", "sent") == 1
    assert metric(page, "reservation_confirmed", "dead_lettered") == 1  # by its event_type
    assert 'notifier_facts_ignored_total{event_type="reservation.rescheduled.v9"} 1.0' in page


async def test_hostile_name_is_escaped_in_html(stack: Stack, user: Callable[[str], str]) -> None:
    hostile = '<script>alert("pwned")</script> & <b>Co</b>'
    fact = payment_failed(
        stack.unique,
        user("hostile"),
        service_name=hostile,
        reason='<img src=x onerror="alert(1)">',
        retry_url="javascript:alert(document.cookie)",
    )
    await publish(stack.kafka, stack.topic, fact)
    stack.start_worker()

    async def sent() -> list[dict[str, object]]:
        return await mails_to(stack.api, user("hostile"))

    [mail] = await eventually(sent, timeout=60, what=lambda: f"the e-mail\n{stack.output()}")
    html, text = str(mail["HTML"]), str(mail["Text"])
    assert "<script>" not in html
    assert "<img" not in html
    assert "<b>Co" not in html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; &amp; &lt;b&gt;Co&lt;/b&gt;" in html
    assert "javascript:" not in html
    assert 'href="http://shop.test/checkout"' in html  # the unsafe link fell back to checkout
    assert hostile in text  # plain text is shown as typed, never HTML-escaped
    assert "\n" not in str(mail["Subject"])


async def test_refund_emails_say_what_happened(stack: Stack, user: Callable[[str], str]) -> None:
    from uuid import uuid4

    from contracts.reservation import REFUND_REASON_DUPLICATE_PAYMENT, OrderRefundedV1

    base = refunded(stack.unique, user("duplicate"))
    duplicate = base.model_copy(update={"reason": REFUND_REASON_DUPLICATE_PAYMENT})
    partial = refunded(stack.unique, user("partial")).model_copy(
        update={
            "event_id": uuid4(),
            "amount_refunded": 5000,
            "partial": True,
            "refunded_total": 5000,
        }
    )
    paid = order(stack.unique, user("beats"))
    beats = OrderRefundedV1(
        event_id=uuid4(),
        occurred_at=paid.occurred_at,
        user_id=paid.user_id,
        user_email=paid.user_email,
        order_id=paid.order_id,
        session_id=paid.session_id,
        amount_refunded=4998,
        currency="eur",
        refund_id=f"re_beats_{stack.unique}",
        reason="charge_refunded",
    )
    await publish(stack.kafka, stack.topic, duplicate, partial, beats)
    stack.start_worker()

    async def sent() -> dict[str, dict[str, object]]:
        found = {k: await mails_to(stack.api, user(k)) for k in ("duplicate", "partial", "beats")}
        return {k: m[0] for k, m in found.items()} if all(found.values()) else {}

    mails = await eventually(sent, timeout=60, what=lambda: f"3 e-mails\n{stack.output()}")
    d = mails["duplicate"]
    assert d["Subject"] == "Extra payment refunded: your Mixing booking stands"
    assert "You paid twice" in str(d["Text"])
    assert "Your booking stands" in str(d["HTML"])
    p = mails["partial"]
    assert p["Subject"] == "Partial refund for your Mixing booking"
    assert "€50.00" in str(p["Text"])
    assert "Your booking stands" in str(p["Text"])
    b = mails["beats"]
    assert b["Subject"] == f"Refund for your order ord_{stack.unique}"
    assert "refunded in full" in str(b["Text"])
    assert f"re_beats_{stack.unique}" in str(b["HTML"])
