"""The installed `dlq` console script, run as a real process: output, exit codes, confirmation."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from backbone.settings import KafkaSettings
from contracts import headers as h
from contracts.topics import retry_topic
from devstack.testing import read_topic

from .support import DeadLetters, Dlq

pytestmark = pytest.mark.integration

DLQ = Path(sys.executable).parent / "dlq"


async def run(kafka: KafkaSettings, *argv: str, stdin: bytes = b"") -> tuple[int, bytes, str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers}
    env.pop("LOG_LEVEL", None)
    proc = await asyncio.create_subprocess_exec(
        str(DLQ),
        *argv,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=30)
    assert proc.returncode is not None
    return proc.returncode, out, err.decode()


async def test_console_script_reads_like_the_in_process_command(
    dead_letters: DeadLetters, dlq: Dlq, kafka_settings: KafkaSettings
) -> None:
    binary = dead_letters.first[5]
    group = dead_letters.group
    (
        (help_code, help_out, _),
        (list_code, list_out, list_err),
        (raw_code, raw_out, _),
        bad,
    ) = await asyncio.gather(
        run(kafka_settings, "--help"),
        run(kafka_settings, "list", group, "--json"),
        run(kafka_settings, "show", group, dead_letters.entries[binary.event_id], "--raw"),
        run(kafka_settings, "list", "no-such-group-y"),
    )

    assert help_code == 0
    assert b"<partition>:<offset>" in help_out
    assert list_code == 0, list_err
    rows = [json.loads(line) for line in list_out.decode().splitlines()]
    assert rows == (await dlq("list", group, "--json")).json_lines()
    assert raw_code == 0
    assert raw_out == binary.value
    assert bad[0] == 2
    assert bad[1] == b""
    assert "unknown group 'no-such-group-y'" in bad[2]
    assert "Traceback" not in bad[2]


async def test_replay_asks_for_confirmation(
    dead_letters: DeadLetters, kafka_settings: KafkaSettings
) -> None:
    sent = dead_letters.first[4]
    entry = dead_letters.entries[sent.event_id]

    async def replayed() -> list[str]:
        return [
            m.header(h.REPLAY_ID) or ""
            for m in await read_topic(kafka_settings, retry_topic(dead_letters.group))
            if m.header(h.EVENT_ID) == sent.event_id
        ]

    before = await replayed()
    refused = await run(
        kafka_settings, "replay", dead_letters.group, "--offset", entry, stdin=b"n\n"
    )
    assert refused[0] == 1
    assert "aborted" in refused[2]
    assert await replayed() == before

    accepted = await run(
        kafka_settings, "replay", dead_letters.group, "--offset", entry, stdin=b"y\n"
    )
    assert accepted[0] == 0, accepted[2]
    assert f"Replay 1 into {retry_topic(dead_letters.group)}?" in accepted[2]
    new = [r for r in await replayed() if r not in before]
    assert len(new) == 1
    assert new[0] in accepted[1].decode()
