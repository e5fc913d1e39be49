"""Scenario 7: a poison event is dead-lettered, the rest flows, and `dlq replay` repairs it.

The poison: a second payment of an already paid reservation, whose handling hits a bug every
time (a database trigger raising on that reservation stands for it; an outage, such as Stripe
answering 5xx, would be waited out instead and never dead-lettered), so the worker's bounded
retries end in `reservation.dlq`. Once the bug is fixed (the trigger dropped), the operator's
`dlq replay` puts the event back and the normal path finishes it, refund included.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from contracts import headers as hdr
from contracts.stripe import CHECKOUT_SESSION_COMPLETED
from contracts.topics import RESERVATION_GROUP, dlq_topic
from devstack.testing import eventually, read_topic

from .harness import Harness

pytestmark = pytest.mark.e2e


def _dlq(h: Harness, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": h.kafka.bootstrap_servers}
    return subprocess.run(
        [str(_bin("dlq")), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


async def _bug(h: Harness, reservation_id: str, *, present: bool) -> None:
    """A "bug" that fails confirming `reservation_id` every time (a deterministic failure)."""
    url = h.stack.config.databases["reservation"]
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        if not present:
            await conn.execute("DROP TRIGGER IF EXISTS poison_bug ON reservations")
            return
        await conn.execute(
            "CREATE OR REPLACE FUNCTION poison_bug() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'bug confirming %', NEW.id; END $$"
        )
        await conn.execute(
            "CREATE TRIGGER poison_bug BEFORE UPDATE ON reservations FOR EACH ROW"
            f" WHEN (NEW.id = '{reservation_id}' AND NEW.status = 'succeeded')"
            " EXECUTE FUNCTION poison_bug()"
        )


async def test_poison_event_is_dead_lettered_and_replayed(shared_stack: Harness) -> None:
    h = shared_stack
    payer, other = h.user("poison"), h.user("bystander")
    first, second = await h.book(payer), await h.book(payer, "mixing")
    only_first = await h.create_session(payer, [first["id"]])
    # Checkout expires a superseded session; this one is paid before Stripe lets it be expired.
    await h.keep_open(only_first["sessionId"])
    both = await h.create_session(payer, [first["id"], second["id"]])
    assert both["sessionId"] != only_first["sessionId"]
    bystander = await h.book(other)
    bystander_session = await h.create_session(other, [bystander["id"]])

    await h.complete(only_first["sessionId"], "paid")
    await h.wait_status(payer, first["id"], "succeeded")

    await _bug(h, second["id"], present=True)
    try:
        # Paying `first` twice: its share must be refunded, and `second` cannot be confirmed.
        await h.complete(both["sessionId"], "paid")

        async def dead_lettered() -> str | None:
            records = await read_topic(h.kafka, dlq_topic(RESERVATION_GROUP))
            return next(
                (
                    r.header(hdr.EVENT_ID)
                    for r in records
                    if r.key == both["sessionId"].encode()
                    and r.header(hdr.EVENT_TYPE) == CHECKOUT_SESSION_COMPLETED
                ),
                None,
            )

        paid_event = await eventually(
            dead_lettered, timeout=60, interval=0.5, what="the poison in the DLQ"
        )
        # The rest flows meanwhile.
        await h.complete(bystander_session["sessionId"], "paid")
        await h.wait_status(other, bystander["id"], "succeeded")
        await h.assert_one_email_per_fact(other)
        # The poison changed nothing: one transaction, rolled back.
        assert (await h.reservation(payer, second["id"]))["status"] == "processing"
    finally:
        await _bug(h, second["id"], present=False)

    listed = await asyncio.to_thread(_dlq, h, "list", RESERVATION_GROUP)
    assert listed.returncode == 0, listed.stderr
    replay = await asyncio.to_thread(
        _dlq, h, "replay", RESERVATION_GROUP, "--event-id", paid_event, "--yes", "--operator", "e2e"
    )
    assert replay.returncode == 0, f"{replay.stdout}\n{replay.stderr}"

    done = await h.wait_status(payer, second["id"], "succeeded")
    assert done["payment"]["stripeSessionId"] == both["sessionId"]
    kept = await h.reservation(payer, first["id"])
    assert kept["status"] == "succeeded"
    assert kept["payment"]["stripeSessionId"] == only_first["sessionId"]
    # The double payment's refund is carried out after the commit (the refund executor), so its
    # fact and e-mail come a moment after the confirmations.
    await h.wait_messages_to(payer.email, 3)
    await h.assert_one_email_per_fact(payer)
    subjects = [m["Subject"] for m in await h.messages_to(payer.email)]
    assert len(subjects) == 3, subjects  # two confirmations and the refund of the double payment
