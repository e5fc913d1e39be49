"""`dlq replay`: exactly the selection lands on `<group>.retry`, intact, stamped, and audited."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import pytest

from backbone.kafka import Message
from backbone.settings import KafkaSettings
from contracts import headers as h
from contracts.topics import retry_topic
from devstack.testing import read_topic

from .support import UPDATED, DeadLetters, Dlq, Sent

pytestmark = pytest.mark.integration

OPERATOR = "ops-test@example.com"


async def audit_ids(dlq: Dlq, group: str) -> set[str]:
    result = await dlq("audit", group, "--json")
    assert result.code == 0, result.err
    return {str(r["replay_id"]) for r in result.json_lines()}


async def replay(dlq: Dlq, group: str, *options: str) -> tuple[dict[str, Any], str, str]:
    """Run a replay; returns its (one, new) audit record, stdout and stderr."""
    before = await audit_ids(dlq, group)
    result = await dlq("replay", group, "--operator", OPERATOR, *options)
    assert result.code == 0, result.err
    audits = (await dlq("audit", group, "--json")).json_lines()
    [new] = [a for a in audits if a["replay_id"] not in before]
    return new, result.out, result.err


async def on_retry(kafka: KafkaSettings, group: str, replay_id: str) -> list[Message]:
    return [
        m for m in await read_topic(kafka, retry_topic(group)) if m.header(h.REPLAY_ID) == replay_id
    ]


def assert_replayed_intact(
    records: list[Message], expected: list[Sent], audit: dict[str, Any]
) -> None:
    assert sorted(m.header(h.EVENT_ID) or "" for m in records) == sorted(
        s.event_id for s in expected
    )
    by_id = {s.event_id: s for s in expected}
    for message in records:
        sent = by_id[message.header(h.EVENT_ID) or ""]
        assert message.key == sent.key
        assert message.value == sent.value
        # The original headers, in order and byte for byte; no dead-letter header; replay ones.
        assert message.headers[:-3] == sent.headers
        assert message.headers[-3:] == (
            (h.REPLAY_ID, audit["replay_id"].encode()),
            (h.REPLAYED_AT, message.headers[-2][1]),
            (h.REPLAYED_BY, OPERATOR.encode()),
        )
        stamped = datetime.fromisoformat(message.header(h.REPLAYED_AT) or "")
        assert stamped == datetime.fromisoformat(audit["replayed_at"])


def crowded_partition(dead: DeadLetters) -> list[tuple[int, Sent]]:
    """(offset, record) of the partition holding the most of our dead letters, by offset."""
    by_partition: dict[int, list[tuple[int, Sent]]] = defaultdict(list)
    for sent in dead.sent:
        partition, offset = map(int, dead.entries[sent.event_id].split(":"))
        by_partition[partition].append((offset, sent))
    sizes = {p: len(entries) for p, entries in by_partition.items()}
    return sorted(by_partition[max(sizes, key=sizes.__getitem__)], key=lambda x: x[0])


async def test_replay_one_offset(
    dead_letters: DeadLetters, dlq: Dlq, kafka_settings: KafkaSettings
) -> None:
    sent = dead_letters.first[1]
    entry = dead_letters.entries[sent.event_id]

    audit, out, _ = await replay(dlq, dead_letters.group, "--offset", entry, "--yes")

    assert_replayed_intact(
        await on_retry(kafka_settings, dead_letters.group, audit["replay_id"]), [sent], audit
    )
    assert audit["count"] == 1
    assert audit["entries"] == [entry]
    assert audit["operator"] == OPERATOR
    assert audit["dry_run"] is False
    assert entry in audit["selection"]
    assert "replayed 1 dead letter(s)" in out


async def test_replay_a_range(
    dead_letters: DeadLetters, dlq: Dlq, kafka_settings: KafkaSettings
) -> None:
    crowded = crowded_partition(dead_letters)
    assert len(crowded) >= 3  # nine keys over three partitions
    partition = dead_letters.entries[crowded[0][1].event_id].split(":")[0]
    first, last = crowded[0][0], crowded[1][0]

    audit, _, _ = await replay(
        dlq, dead_letters.group, "--offsets", f"{partition}:{first}-{last}", "--yes"
    )

    expected = [sent for offset, sent in crowded if first <= offset <= last]
    assert_replayed_intact(
        await on_retry(kafka_settings, dead_letters.group, audit["replay_id"]), expected, audit
    )
    assert audit["count"] == len(expected) == 2


async def test_replay_by_event_id(
    dead_letters: DeadLetters, dlq: Dlq, kafka_settings: KafkaSettings
) -> None:
    sent = dead_letters.second[1]

    audit, _, _ = await replay(dlq, dead_letters.group, "--event-id", sent.event_id, "-y")

    assert_replayed_intact(
        await on_retry(kafka_settings, dead_letters.group, audit["replay_id"]), [sent], audit
    )


async def test_replay_by_time_window(
    dead_letters: DeadLetters, dlq: Dlq, kafka_settings: KafkaSettings
) -> None:
    audit, _, _ = await replay(
        dlq,
        dead_letters.group,
        "--since",
        dead_letters.between.isoformat(),
        "--until",
        dead_letters.after.isoformat(),
        "--yes",
        "--rate",
        "100/s",
    )

    records = await on_retry(kafka_settings, dead_letters.group, audit["replay_id"])
    assert_replayed_intact(records, dead_letters.second, audit)


async def test_replay_by_type_before_a_time(
    dead_letters: DeadLetters, dlq: Dlq, kafka_settings: KafkaSettings
) -> None:
    audit, _, _ = await replay(
        dlq,
        dead_letters.group,
        "--type",
        UPDATED,
        "--until",
        dead_letters.between.isoformat(),
        "--yes",
    )

    expected = [s for s in dead_letters.first if s.event_type == UPDATED]
    assert_replayed_intact(
        await on_retry(kafka_settings, dead_letters.group, audit["replay_id"]), expected, audit
    )


async def test_dry_run_writes_nothing_to_the_retry_topic(
    dead_letters: DeadLetters, dlq: Dlq, kafka_settings: KafkaSettings
) -> None:
    before = len(await read_topic(kafka_settings, retry_topic(dead_letters.group)))

    audit, out, _ = await replay(dlq, dead_letters.group, "--all", "--dry-run")

    assert len(await read_topic(kafka_settings, retry_topic(dead_letters.group))) == before
    assert audit["dry_run"] is True
    assert audit["count"] == len(dead_letters.sent)
    assert "dry run" in out
    for sent in dead_letters.sent:
        assert sent.event_id in out  # the preview lists what would go


async def test_a_window_after_the_last_entry_replays_nothing(
    dead_letters: DeadLetters, dlq: Dlq, kafka_settings: KafkaSettings
) -> None:
    before_ids = await audit_ids(dlq, dead_letters.group)
    before = len(await read_topic(kafka_settings, retry_topic(dead_letters.group)))

    result = await dlq(
        "replay", dead_letters.group, "--since", dead_letters.after.isoformat(), "--yes"
    )

    assert result.code == 0, result.err
    assert "nothing selected" in result.out
    assert len(await read_topic(kafka_settings, retry_topic(dead_letters.group))) == before
    assert await audit_ids(dlq, dead_letters.group) == before_ids


async def test_replaying_again_says_so(
    dead_letters: DeadLetters, dlq: Dlq, kafka_settings: KafkaSettings
) -> None:
    entry = dead_letters.entries[dead_letters.second[2].event_id]
    first, _, _ = await replay(dlq, dead_letters.group, "--offset", entry, "--yes")

    second, out, err = await replay(dlq, dead_letters.group, "--offset", entry, "--yes")

    assert "1 of the 1 selected dead letter(s) were already replayed" in err
    assert first["replay_id"] in err
    assert "harmless" in err
    assert "1 had been replayed before" in out
    assert second["replay_id"] != first["replay_id"]
    assert len(await on_retry(kafka_settings, dead_letters.group, second["replay_id"])) == 1


async def test_audit_lists_replays_as_a_table(dead_letters: DeadLetters, dlq: Dlq) -> None:
    await replay(dlq, dead_letters.group, "--event-id", dead_letters.first[0].event_id, "--yes")

    every = await dlq("audit", "--json")
    table = await dlq("audit", dead_letters.group)
    latest = await dlq("audit", dead_letters.group, "--json", "--limit", "1")

    assert every.code == table.code == latest.code == 0
    assert {r["group"] for r in every.json_lines()} >= {dead_letters.group}
    assert OPERATOR in table.out
    assert dead_letters.first[0].event_id in latest.json_lines()[0]["selection"]
