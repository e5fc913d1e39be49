"""At most once per fact: redeliveries, a crash between send and mark, SMTP outages, refusals."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from backbone.kafka.message import Message
from contracts import headers as h
from devstack.testing import eventually, read_topic
from mail_sink import Fault

from .conftest import Stack
from .support import confirmed, expired, mails_to, metric, notification, publish

pytestmark = pytest.mark.integration


async def _metrics(stack: Stack) -> str:
    async with httpx.AsyncClient(timeout=5) as http:
        return (await http.get(f"http://127.0.0.1:{stack.http_port}/metrics")).text


async def test_same_fact_delivered_three_times_sends_one_message(
    stack: Stack, user: Callable[[str], str]
) -> None:
    fact = confirmed(stack.unique, user("twice"))
    # Same key, so the same partition: the sentinel after them is handled after all three.
    sentinel = expired(stack.unique, user("sentinel"), reservation_id=fact.reservation_id)
    await publish(stack.kafka, stack.topic, fact, fact, fact, sentinel)
    stack.start_worker()

    async def sentinel_sent() -> list[dict[str, object]]:
        return await mails_to(stack.api, user("sentinel"))

    await eventually(sentinel_sent, timeout=60, what=lambda: f"sentinel\n{stack.output()}")
    assert len(await mails_to(stack.api, user("twice"))) == 1
    row = notification(stack.database_url, fact.event_id)
    assert row is not None
    assert row["status"] == "sent"
    assert row["attempts"] == 1
    assert metric(await _metrics(stack), "reservation_confirmed", "duplicate") == 2


async def test_worker_killed_between_send_and_mark_resends_same_message_id(
    stack: Stack, user: Callable[[str], str]
) -> None:
    fact = confirmed(stack.unique, user("crash"))
    await publish(stack.kafka, stack.topic, fact)
    first = stack.start_worker(crash_after_send=True)

    async def died_after_sending() -> bool:
        return not first.alive and len(await mails_to(stack.api, user("crash"))) == 1

    await eventually(died_after_sending, timeout=60, what=lambda: f"the crash\n{stack.output()}")
    row = notification(stack.database_url, fact.event_id)
    assert row is not None
    assert row["status"] == "sending"

    stack.start_worker()

    async def marked_sent() -> bool:
        row = notification(stack.database_url, fact.event_id)
        return row is not None and row["status"] == "sent"

    await eventually(marked_sent, timeout=60, what=lambda: f"marked sent\n{stack.output()}")
    mails = await mails_to(stack.api, user("crash"))
    assert 1 <= len(mails) <= 2
    assert {m["MessageID"] for m in mails} == {f"{fact.event_id}@notifier.payment-backbone"}


async def test_smtp_down_then_back_delivers_after_it_returns(
    stack: Stack, user: Callable[[str], str]
) -> None:
    await stack.sink.stop_smtp()
    fact = confirmed(stack.unique, user("outage"))
    await publish(stack.kafka, stack.topic, fact)
    # Patient retries, so the outage fits in the retry budget rather than ending in the DLQ.
    stack.start_worker(CONSUMER_MAX_ATTEMPTS="200", CONSUMER_BACKOFF_MAX_S="0.2")

    async def failing() -> bool:
        row = notification(stack.database_url, fact.event_id)
        return row is not None and row["attempts"] >= 3 and "unavailable" in row["last_error"]

    await eventually(failing, timeout=60, what=lambda: f"failed attempts\n{stack.output()}")
    assert await mails_to(stack.api, user("outage")) == []
    await stack.sink.start_smtp()

    async def delivered() -> list[dict[str, object]]:
        return await mails_to(stack.api, user("outage"))

    [mail] = await eventually(delivered, timeout=30, what=lambda: f"delivery\n{stack.output()}")
    assert mail["MessageID"] == f"{fact.event_id}@notifier.payment-backbone"
    row = notification(stack.database_url, fact.event_id)
    assert row is not None
    assert row["status"] == "sent"
    assert await read_topic(stack.kafka, stack.dlq) == []
    assert metric(await _metrics(stack), "reservation_confirmed", "retried") >= 2


async def test_permanently_bad_address_is_recorded_failed_and_not_retried(
    stack: Stack, user: Callable[[str], str]
) -> None:
    stack.sink.faults.set(Fault("reject_recipient", code=550, recipient=user("bad")))
    bad, good = confirmed(stack.unique, user("bad")), confirmed(stack.unique, user("good"))
    unusable = confirmed(stack.unique, "not an address")
    await publish(stack.kafka, stack.topic, bad, unusable, good)
    stack.start_worker()

    async def settled() -> bool:
        rows = [notification(stack.database_url, f.event_id) for f in (bad, unusable, good)]
        return all(r is not None and r["status"] != "sending" for r in rows)

    await eventually(settled, timeout=60, what=lambda: f"all settled\n{stack.output()}")
    assert len(await mails_to(stack.api, user("good"))) == 1
    for fact, reason in ((bad, "550"), (unusable, "unusable address")):
        row = notification(stack.database_url, fact.event_id)
        assert row is not None
        assert row["status"] == "failed"
        assert row["attempts"] == 1
        assert reason in row["last_error"]
    assert await read_topic(stack.kafka, stack.dlq) == []
    assert metric(await _metrics(stack), "reservation_confirmed", "failed") == 2


async def test_server_refusing_everything_dead_letters_and_later_facts_go_out(
    stack: Stack, user: Callable[[str], str]
) -> None:
    stack.sink.faults.set(Fault("reject_all", code=554, message="5.7.1 relay refused"))
    refused = confirmed(stack.unique, user("refused"))
    await publish(stack.kafka, stack.topic, refused)
    stack.start_worker()

    async def dead_lettered() -> list[Message]:
        return await read_topic(stack.kafka, stack.dlq)

    [dead] = await eventually(dead_lettered, timeout=60, what=lambda: f"DLQ\n{stack.output()}")
    assert dead.header(h.EVENT_ID) == str(refused.event_id)
    assert dead.header(h.DLQ_ATTEMPTS) == "3"
    assert dead.header(h.DLQ_CONSUMER_GROUP) == stack.group
    assert dead.header(h.DLQ_ERROR_CLASS) == "notifier.domain.errors.TransientSendError"
    assert "554" in (dead.header(h.DLQ_ERROR_MESSAGE) or "")
    assert dead.value == refused.model_dump_json().encode()

    stack.sink.faults.set(None)
    later = confirmed(stack.unique, user("later"))
    await publish(stack.kafka, stack.topic, later)

    async def later_sent() -> list[dict[str, object]]:
        return await mails_to(stack.api, user("later"))

    await eventually(later_sent, timeout=60, what=lambda: f"later fact\n{stack.output()}")
    assert await mails_to(stack.api, user("refused")) == []
    row = notification(stack.database_url, refused.event_id)
    # Still `sending`: an operator's `dlq replay` sends it, with the same Message-ID.
    assert row is not None
    assert row["status"] == "sending"
    assert "554" in row["last_error"]
    page = await _metrics(stack)
    assert metric(page, "reservation_confirmed", "dead_lettered") == 1
    assert metric(page, "reservation_confirmed", "sent") == 1


async def test_worker_killed_mid_batch_loses_nothing_and_resends_only_what_it_had_sent(
    stack: Stack, user: Callable[[str], str]
) -> None:
    facts = [confirmed(stack.unique, user(f"batch{i}")) for i in range(8)]
    await publish(stack.kafka, stack.topic, *facts)
    first = stack.start_worker(
        crash_after_send=True, CRASH_AFTER_SENDS="3", NOTIFIER_SETTLE_EVERY="2"
    )

    async def died() -> bool:
        return not first.alive

    await eventually(died, timeout=60, what=lambda: f"the crash\n{stack.output()}")
    # The Message-IDs it sent before dying, in order: accepted by the server, and marked sent
    # two at a time (NOTIFIER_SETTLE_EVERY=2; a batch's last ones when it ends): the last one
    # is not marked, and no more than two are not.
    sent_order = (stack.tmp_path / "crashed").read_text().split()
    sent_before = set(sent_order)
    assert len(sent_before) == 3
    ids = {f"<{f.event_id}@notifier.payment-backbone>": f for f in facts}
    assert sent_before <= ids.keys()
    statuses = {
        message_id: (notification(stack.database_url, f.event_id) or {}).get("status")
        for message_id, f in ids.items()
    }
    unmarked = [m for m in sent_order if statuses[m] != "sent"]
    assert sent_order[-1] in unmarked
    assert len(unmarked) <= 2
    assert {statuses[m] for m in unmarked} == {"sending"}

    stack.start_worker()

    async def all_sent() -> bool:
        rows = [notification(stack.database_url, f.event_id) for f in facts]
        return all(r is not None and r["status"] == "sent" for r in rows)

    await eventually(all_sent, timeout=60, what=lambda: f"all sent\n{stack.output()}")
    for message_id, fact in ids.items():
        mails = await mails_to(stack.api, fact.user_email)
        assert {m["MessageID"] for m in mails} == {message_id.strip("<>")}
        # Once each; twice only for a message the dead worker had sent but not marked.
        assert len(mails) == 1 or (len(mails) == 2 and message_id in unmarked), message_id
    assert await read_topic(stack.kafka, stack.dlq) == []
