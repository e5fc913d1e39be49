"""`dlq` prints untrusted fields (error messages, headers, keys, payloads) with control
characters escaped, so a crafted record cannot drive the operator's terminal."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest

from backbone.dlq._render import printable
from backbone.kafka import Message, PermanentError
from backbone.settings import KafkaSettings
from contracts import headers as h
from contracts.topics import dlq_topic
from devstack.testing import wait_for_records

from .support import Dlq, Sent, group_topics, produce, running

pytestmark = pytest.mark.integration

# Clear the screen, set the window title, ring the bell, and a C1 CSI; then a right-to-left
# override that would show "exe.txt" as "txt.exe".
HOSTILE = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202eexe.txt"
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")


def test_printable_escapes_every_control_character() -> None:
    assert printable(HOSTILE) == "\\x1b[2J\\x1b]0;owned\\x07\\x9b31m\\u202eexe.txt"
    assert printable("a\nb\tc") == "a\\nb\\tc"
    assert printable("a\nb\tc\x1b", keep_newlines=True) == "a\nb\tc\\x1b"
    assert printable("café ünïcode €") == "café ünïcode €"


async def test_list_and_show_escape_what_the_record_carries(
    kafka_settings: KafkaSettings, dlq: Dlq
) -> None:
    tag = uuid.uuid4().hex[:8]
    group, source = f"dlqesc-{tag}", f"dlqesc-src-{tag}"
    await group_topics(kafka_settings, group, source)
    hostile = HOSTILE.encode()
    sent = Sent(
        event_id=f"e-{tag}",
        event_type="thing\x1b[8m.created",
        key=b"key-" + hostile,
        value=b"not json " + hostile,
        headers=(
            (h.EVENT_ID, f"e-{tag}".encode()),
            (h.EVENT_TYPE, b"thing\x1b[8m.created"),
            ("x-test-hostile", hostile),
        ),
    )

    async def handler(messages: Sequence[Message]) -> None:
        raise PermanentError(f"bad input {HOSTILE}")

    async with running(kafka_settings, group, source, handler):
        await produce(kafka_settings, source, [sent])
        [dead] = await wait_for_records(kafka_settings, dlq_topic(group), 1)

    listed = await dlq("list", group)
    shown = await dlq("show", group, f"{dead.partition}:{dead.offset}")

    for result in (listed, shown):
        assert result.code == 0, result.err
        for control in RAW_CONTROLS:
            assert control not in result.out, (control, result.out)
    assert "\\x1b[2J" in listed.out  # the error message, escaped, still readable
    assert "thing\\x1b[8m.created" in listed.out
    assert "bad input \\x1b[2J\\x1b]0;owned\\x07\\x9b31m\\u202eexe.txt" in shown.out
    assert "key-\\x1b[2J" in shown.out
    assert "not json \\x1b[2J" in shown.out
