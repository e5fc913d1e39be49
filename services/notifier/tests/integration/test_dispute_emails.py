"""A dispute opened and a dispute closed each send one e-mail, to the operator."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from contracts.reservation import PaymentDisputeClosedV1, PaymentDisputedV1
from devstack.testing import eventually

from .conftest import Stack
from .support import mails_to, publish

pytestmark = pytest.mark.integration


async def test_dispute_opened_and_closed_reach_the_operator(stack: Stack) -> None:
    common = {
        "occurred_at": datetime.now(UTC),
        "user_id": "user_disputed",
        "user_email": f"payer-{stack.unique}@example.test",
        "dispute_id": f"du_{stack.unique}",
        "payment_intent_id": f"pi_{stack.unique}",
        "charge_id": f"ch_{stack.unique}",
        "amount": 15000,
        "currency": "eur",
        "reason": "fraudulent",
        "reservation_ids": [f"res-{stack.unique}"],
    }
    opened = PaymentDisputedV1(
        **common,
        event_id=uuid4(),
        stripe_status="needs_response",
        evidence_due_by=datetime(2030, 5, 24, 23, 59, tzinfo=UTC),
    )
    closed = PaymentDisputeClosedV1(
        **common, event_id=uuid4(), stripe_status="lost", outcome="lost"
    )
    await publish(stack.kafka, stack.topic, opened, closed)
    stack.start_worker()

    async def both() -> list[dict[str, object]]:
        found = await mails_to(stack.api, stack.operator)
        return found if len(found) >= 2 else []

    mails = await eventually(both, timeout=60, what=lambda: f"2 e-mails\n{stack.output()}")
    subjects = sorted(str(m["Subject"]) for m in mails)
    assert subjects == [
        f"[dispute] du_{stack.unique} closed: lost",
        f"[dispute] du_{stack.unique}: evidence due Friday 24 May 2030 23:59 (UTC+00:00)",
    ]
    text = "\n".join(str(m["Text"]) for m in mails)
    assert "€150.00" in text
    assert f"res-{stack.unique}" in text
    assert "slots are free again" in text
    # The payer is not told: disputes are between their bank and the operator.
    assert await mails_to(stack.api, f"payer-{stack.unique}@example.test") == []
