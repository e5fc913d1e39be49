"""`dlq topics`, `list` and `show` on real dead letters; bad input: a clear message, exit code."""

from __future__ import annotations

import socket

import pytest

from backbone.settings import KafkaSettings
from contracts import headers as h
from contracts.topics import CONSUMER_GROUPS, dlq_topic

from .support import CREATED, UPDATED, DeadLetters, Dlq

pytestmark = pytest.mark.integration


def ids(rows: list[dict[str, object]]) -> list[str]:
    return sorted(str(r["event_id"]) for r in rows)


async def test_list_returns_every_entry_with_its_fields(
    dead_letters: DeadLetters, dlq: Dlq
) -> None:
    result = await dlq("list", dead_letters.group, "--json")

    assert result.code == 0, result.err
    rows = result.json_lines()
    assert ids(rows) == sorted(s.event_id for s in dead_letters.sent)
    for row in rows:
        sent = dead_letters.by_id(str(row["event_id"]))
        assert row["entry"] == dead_letters.entries[sent.event_id]
        assert row["event_type"] == sent.event_type
        assert row["error_class"] == "backbone.kafka.retry.PermanentError"
        assert row["error_message"] == f"cannot handle {sent.event_id}"
        assert row["attempts"] == 1
        assert row["original_topic"] == dead_letters.source
    failed = [str(r["failed_at"]) for r in rows]
    assert failed == sorted(failed), "oldest first"


async def test_table_output_shows_the_rows(dead_letters: DeadLetters, dlq: Dlq) -> None:
    result = await dlq("list", dead_letters.group)

    assert result.code == 0, result.err
    assert "9 dead letter(s)" in result.out
    for sent in dead_letters.sent:
        assert sent.event_id in result.out
        assert dead_letters.entries[sent.event_id] in result.out


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--type", UPDATED], lambda d: [s for s in d.first if s.event_type == UPDATED]),
        (["--type", CREATED], lambda d: [s for s in d.sent if s.event_type == CREATED]),
        (["--event-id", "{a2}"], lambda d: [d.first[2]]),
        (["--since", "{between}"], lambda d: d.second),
        (["--until", "{between}"], lambda d: d.first),
        (["--since", "{between}", "--type", UPDATED], lambda d: []),
        (["--error", "PermanentError"], lambda d: d.sent),
        (["--error", "builtins.ValueError"], lambda d: []),
        (["--since", "{after}"], lambda d: []),
        (["--since", "1h", "--until", "now"], lambda d: d.sent),
    ],
    ids=[
        "type-updated",
        "type-created",
        "event-id",
        "since",
        "until",
        "since-and-type",
        "error-short",
        "error-other",
        "window-after-last-entry",
        "relative-window",
    ],
)
async def test_filters_return_exactly_the_matching_entries(
    dead_letters: DeadLetters, dlq: Dlq, options: list[str], expected: object
) -> None:
    names = {
        "between": dead_letters.between.isoformat(),
        "after": dead_letters.after.isoformat(),
        "a2": dead_letters.first[2].event_id,
    }
    argv = [o.format(**names) for o in options]

    result = await dlq("list", dead_letters.group, "--json", *argv)

    assert result.code == 0, result.err
    assert callable(expected)
    assert ids(result.json_lines()) == sorted(s.event_id for s in expected(dead_letters))


async def test_limit_gives_the_oldest(dead_letters: DeadLetters, dlq: Dlq) -> None:
    every = (await dlq("list", dead_letters.group, "--json")).json_lines()
    result = await dlq("list", dead_letters.group, "--json", "--limit", "2")

    assert result.json_lines() == every[:2]


async def test_show_prints_headers_and_the_original_payload(
    dead_letters: DeadLetters, dlq: Dlq
) -> None:
    sent = dead_letters.first[1]
    entry = dead_letters.entries[sent.event_id]

    pretty = await dlq("show", dead_letters.group, entry)
    as_json = await dlq("show", dead_letters.group, entry, "--json")
    raw = await dlq("show", dead_letters.group, entry, "--raw")

    assert pretty.code == as_json.code == raw.code == 0, pretty.err
    assert raw.raw == sent.value
    for name in (
        h.EVENT_ID,
        h.EVENT_TYPE,
        h.DLQ_ERROR_CLASS,
        h.DLQ_FAILED_AT,
        h.DLQ_ORIGINAL_TOPIC,
    ):
        assert name in pretty.out
    assert sent.key.decode() in pretty.out
    assert f'"id": "{sent.event_id}"' in pretty.out  # the JSON payload, pretty-printed
    [shown] = as_json.json_lines()
    assert shown["value"] == sent.value.decode()
    assert shown["key"] == sent.key.decode()
    assert [tuple(x) for x in shown["headers"][:2]] == [
        (n, v.decode()) for n, v in sent.headers[:2]
    ]


async def test_show_keeps_binary_payloads_exact(dead_letters: DeadLetters, dlq: Dlq) -> None:
    sent = dead_letters.first[5]
    entry = dead_letters.entries[sent.event_id]

    raw = await dlq("show", dead_letters.group, entry, "--raw")
    pretty = await dlq("show", dead_letters.group, entry)

    assert raw.raw == sent.value
    assert repr(sent.value) in pretty.out


async def test_topics_lists_registry_groups_and_any_dlq_topic(
    dead_letters: DeadLetters, dlq: Dlq
) -> None:
    result = await dlq("topics", "--json")

    assert result.code == 0, result.err
    rows = {r["group"]: r for r in result.json_lines()}
    assert set(CONSUMER_GROUPS) <= set(rows)
    ours = rows[dead_letters.group]
    assert ours["topic"] == dlq_topic(dead_letters.group)
    assert ours["depth"] == len(dead_letters.sent)
    assert ours["partitions"] == 3
    assert ours["oldest_failed_at"] is not None
    assert ours["oldest_failed_at"] < dead_letters.between.isoformat()
    assert 0 <= ours["oldest_age_s"] < 600
    table = await dlq("topics")
    assert dlq_topic(dead_letters.group) in table.out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list", "no-such-group-x"], "unknown group 'no-such-group-x'"),
        (["show", "{group}", "1:99999"], "out of range"),
        (["show", "{group}", "7:0"], "partition 7 does not exist"),
        (["show", "{group}", "0"], "ambiguous"),
        (["list", "{group}", "--since", "yesterday-ish"], "cannot read time 'yesterday-ish'"),
        (["list", "{group}", "--since", "now", "--until", "1h"], "must be after --since"),
        (["replay", "{group}", "--offsets", "0:0-99999", "--yes"], "out of range"),
        (["replay", "{group}", "--yes"], "say what to replay"),
        (["replay", "{group}", "--all", "--type", "x", "--yes"], "do not combine"),
        (["replay", "{group}", "--all", "--rate", "fast"], "cannot read rate"),
        (["list", "{group}", "--limit", "0"], "--limit"),
    ],
)
async def test_bad_input_is_a_clear_error(
    dead_letters: DeadLetters, dlq: Dlq, argv: list[str], message: str
) -> None:
    result = await dlq(*(a.format(group=dead_letters.group) for a in argv))

    assert result.code == 2
    assert message in result.err
    assert result.out == ""


async def test_unreachable_broker_is_a_clear_error(dlq: Dlq, kafka_settings: KafkaSettings) -> None:
    away = kafka_settings.model_copy(update={"bootstrap_servers": f"127.0.0.1:{_closed_port()}"})

    result = await dlq("topics", kafka=away)

    assert result.code == 1
    assert "broker unreachable" in result.err
    assert result.out == ""
