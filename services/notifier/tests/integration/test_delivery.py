"""At most once per fact: redeliveries, a crash between send and mark, SMTP outages, refusals."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

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


async def test_worker_killed_mid_batch_over_several_connections_resends_at_most_settle_every(
    stack: Stack, user: Callable[[str], str]
) -> None:
    settle_every, crash_after = 3, 8
    facts = [confirmed(stack.unique, user(f"m{i}")) for i in range(24)]
    await publish(stack.kafka, stack.topic, *facts)
    env = {"NOTIFIER_SETTLE_EVERY": str(settle_every), "NOTIFIER_SMTP_CONNECTIONS": "4"}
    first = stack.start_worker(crash_after_send=True, CRASH_AFTER_SENDS=str(crash_after), **env)

    async def died() -> bool:
        return not first.alive

    await eventually(died, timeout=60, what=lambda: f"the crash\n{stack.output()}")
    stack.start_worker(**env)

    async def all_sent() -> bool:
        rows = [notification(stack.database_url, f.event_id) for f in facts]
        return all(r is not None and r["status"] == "sent" for r in rows)

    await eventually(all_sent, timeout=90, what=lambda: f"all sent\n{stack.output()}")
    counts = [len(await mails_to(stack.api, f.user_email)) for f in facts]
    # Nothing lost; sent twice (same Message-ID) at most what was under way or accepted and
    # not marked when the worker died: `settle_every`, not one per connection.
    assert min(counts) == 1
    assert sum(counts) - len(facts) <= settle_every
    for fact in facts:
        ids = {m["MessageID"] for m in await mails_to(stack.api, fact.user_email)}
        assert ids == {f"{fact.event_id}@notifier.payment-backbone"}


async def test_smtp_down_then_back_delivers_after_it_returns(
    stack: Stack, user: Callable[[str], str]
) -> None:
    await stack.sink.stop_smtp()
    fact = confirmed(stack.unique, user("outage"))
    await publish(stack.kafka, stack.topic, fact)
    # The default retry budget (5 tries): an outage is waited out, however many tries it takes.
    stack.start_worker(CONSUMER_TRANSIENT_BACKOFF_MAX_S="0.2")

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


async def test_server_refusing_a_message_for_good_records_it_failed_and_later_facts_go_out(
    stack: Stack, user: Callable[[str], str]
) -> None:
    stack.sink.faults.set(Fault("reject_all", code=554, message="5.7.1 relay refused", times=1))
    refused = confirmed(stack.unique, user("refused"))
    await publish(stack.kafka, stack.topic, refused)
    stack.start_worker()

    async def settled() -> bool:
        row = notification(stack.database_url, refused.event_id)
        return row is not None and row["status"] != "sending"

    await eventually(settled, timeout=60, what=lambda: f"settled\n{stack.output()}")
    later = confirmed(stack.unique, user("later"))
    await publish(stack.kafka, stack.topic, later)

    async def later_sent() -> list[dict[str, object]]:
        return await mails_to(stack.api, user("later"))

    await eventually(later_sent, timeout=60, what=lambda: f"later fact\n{stack.output()}")
    assert await mails_to(stack.api, user("refused")) == []
    row = notification(stack.database_url, refused.event_id)
    # Recorded failed and counted (an alert watches the count), not retried, not dead-lettered.
    assert row is not None
    assert row["status"] == "failed"
    assert row["attempts"] == 1
    assert "554" in row["last_error"]
    assert await read_topic(stack.kafka, stack.dlq) == []
    assert metric(await _metrics(stack), "reservation_confirmed", "failed") == 1


async def test_smtp_answering_451_to_everything_is_waited_out_past_the_retry_budget(
    stack: Stack, user: Callable[[str], str]
) -> None:
    stack.sink.faults.set(Fault("reject_all", code=451, stage="mail"))
    first, second = confirmed(stack.unique, user("first")), confirmed(stack.unique, user("second"))
    await publish(stack.kafka, stack.topic, first, second)
    # Default retry budget (5 tries, about 3 s): the outage outlasts it many times over.
    stack.start_worker(CONSUMER_TRANSIENT_BACKOFF_MAX_S="0.5")

    async def waiting() -> bool:
        # Whichever fact the worker took first holds the others back: it is tried again.
        rows = [notification(stack.database_url, f.event_id) for f in (first, second)]
        return any(r is not None and r["attempts"] >= 12 and "451" in r["last_error"] for r in rows)

    await eventually(waiting, timeout=90, what=lambda: f"tries\n{stack.output()}")
    async with httpx.AsyncClient(timeout=5) as http:
        ready = await http.get(f"http://127.0.0.1:{stack.http_port}/readyz")
    assert ready.status_code == 503
    assert "waits for smtp" in ready.text
    assert 'consumer_stalled_seconds{dependency="smtp"' in await _metrics(stack)
    stack.sink.faults.set(None)

    async def delivered() -> bool:
        return all([await mails_to(stack.api, user(n)) for n in ("first", "second")])

    await eventually(delivered, timeout=60, what=lambda: f"delivery\n{stack.output()}")
    assert [len(await mails_to(stack.api, user(n))) for n in ("first", "second")] == [1, 1]
    assert await read_topic(stack.kafka, stack.dlq) == []
