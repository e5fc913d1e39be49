"""Facts with unique ids, publishing them, and reading the mail sink and the notifications table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import psycopg

from backbone.kafka import Producer
from backbone.settings import KafkaSettings
from contracts import headers as h
from contracts.reservation import (
    REFUND_REASON_LATE_PAYMENT_SLOT_TAKEN,
    FactBase,
    OrderConfirmedV1,
    OrderItemV1,
    ReservationConfirmedV1,
    ReservationExpiredV1,
    ReservationFlaggedForReviewV1,
    ReservationPaymentFailedV1,
    ReservationRefundedV1,
)

STARTS = datetime(2030, 5, 17, 14, 0, tzinfo=UTC)


def _slot(unique: str, email: str, **overrides: Any) -> dict[str, Any]:
    return {
        "event_id": uuid4(),
        "occurred_at": datetime.now(UTC),
        "correlation_id": f"req_{unique}",
        "user_id": f"user_{unique}",
        "user_email": email,
        "reservation_id": f"res-{unique}-{uuid4().hex[:6]}",
        "service_name": "Mixing",
        "starts_at": STARTS,
        "ends_at": STARTS + timedelta(hours=2),
        **overrides,
    }


def confirmed(unique: str, email: str, **overrides: Any) -> ReservationConfirmedV1:
    return ReservationConfirmedV1(
        **_slot(unique, email, **overrides),
        amount_paid=15000,
        currency="eur",
        reference=f"RSV-{unique[:6].upper()}",
        session_id=f"cs_test_{unique}",
    )


def payment_failed(unique: str, email: str, **overrides: Any) -> ReservationPaymentFailedV1:
    fields = {"reason": "Your card was declined.", "retry_url": "http://shop.test/checkout"}
    fields |= overrides
    return ReservationPaymentFailedV1(**_slot(unique, email, **fields), session_id=f"cs_{unique}")


def expired(unique: str, email: str, **overrides: Any) -> ReservationExpiredV1:
    return ReservationExpiredV1(**_slot(unique, email, **overrides))


def refunded(unique: str, email: str) -> ReservationRefundedV1:
    return ReservationRefundedV1(
        **_slot(unique, email),
        amount_refunded=15000,
        currency="eur",
        refund_id=f"re_{unique}",
        reason=REFUND_REASON_LATE_PAYMENT_SLOT_TAKEN,
    )


def flagged(unique: str, email: str) -> ReservationFlaggedForReviewV1:
    return ReservationFlaggedForReviewV1(
        **_slot(unique, email),
        reason="amount_mismatch",
        expected_amount=15000,
        expected_currency="eur",
        paid_amount=1500,
        paid_currency="eur",
        session_id=f"cs_{unique}",
    )


def order(unique: str, email: str) -> OrderConfirmedV1:
    return OrderConfirmedV1(
        event_id=uuid4(),
        occurred_at=datetime.now(UTC),
        user_id=f"user_{unique}",
        user_email=email,
        order_id=f"ord_{unique}",
        session_id=f"cs_{unique}",
        items=[
            OrderItemV1(item_id="beat_1", title="Midnight Tape", price=2999),
            OrderItemV1(item_id="beat_2", title="Neon Rain", price=1999),
        ],
        total=4998,
        currency="eur",
    )


async def publish(
    kafka: KafkaSettings, topic: str, *facts: FactBase, raw: list[bytes] | None = None
) -> None:
    """Publish facts as the reservation outbox relay does: key, event id and type headers."""
    producer = Producer(kafka)
    try:
        for fact in facts:
            await producer.send(
                topic,
                fact.model_dump_json().encode(),
                key=fact.partition_key().encode(),
                headers=[
                    (h.EVENT_ID, str(fact.event_id).encode()),
                    (h.EVENT_TYPE, str(getattr(fact, "event_type", "")).encode()),
                ],
            )
        for value in raw or []:
            await producer.send(topic, value, key=b"raw", headers=[(h.EVENT_ID, b"raw")])
    finally:
        await producer.stop()


async def mails_to(api: httpx.AsyncClient, address: str) -> list[dict[str, Any]]:
    """Every full message whose To is `address`, through the Mailpit-compatible API."""
    found = (await api.get("/api/v1/search", params={"query": f"to:{address}"})).json()
    result = []
    for summary in found["messages"]:
        if any(to["Address"] == address for to in summary["To"]):
            result.append((await api.get(f"/api/v1/message/{summary['ID']}")).json())
    return result


def notification(database_url: str, event_id: object) -> dict[str, Any] | None:
    """The notifications row of a fact, as a dict."""
    with psycopg.connect(database_url) as conn:
        exists = conn.execute("SELECT to_regclass('notifications')").fetchone()
        if exists is None or exists[0] is None:
            return None  # the worker has not migrated yet
        cursor = conn.execute(
            "SELECT status, attempts, last_error, message_id, recipient, template"
            " FROM notifications WHERE event_id = %s",
            (str(event_id),),
        )
        row = cursor.fetchone()
        if row is None:
            return None
        names = [d.name for d in cursor.description or ()]
        return dict(zip(names, row, strict=True))


def metric(text: str, template: str, outcome: str) -> float:
    """notifier_notifications_total{template, outcome} from a /metrics page."""
    wanted = f'notifier_notifications_total{{outcome="{outcome}",template="{template}"}}'
    for line in text.splitlines():
        if line.startswith(wanted):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{wanted} not in /metrics")
