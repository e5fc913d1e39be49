"""Logging: JSON lines off a terminal, ids bound per message or request, secrets never written."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading

import pytest

from backbone.logging import bound_ids, configure_logging, get_logger
from backbone.settings import LogSettings


def test_json_lines_carry_bound_ids_and_redact_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("unit", LogSettings(format="json"))
    log = get_logger("t")
    with bound_ids(request_id="req-1", session_id="cs_1", reservation_id=None):
        log.info("payment.seen", secret="whsec_live_value", amount=1500)
    log.info("after.block")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    first, second = lines[-2], lines[-1]
    assert first["event"] == "payment.seen"
    assert first["request_id"] == "req-1"
    assert first["session_id"] == "cs_1"
    assert "reservation_id" not in first
    assert first["secret"] == "[redacted]"
    assert first["service"] == "unit"
    assert "whsec_live_value" not in json.dumps(lines)
    assert "request_id" not in second


async def test_nested_ids_come_back_on_the_way_out_and_stay_in_their_task(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("unit", LogSettings(format="json"))
    log = get_logger("t")

    async def other_task() -> None:
        log.info("elsewhere")

    with bound_ids(event_id="evt_1", session_id="cs_1"):
        with bound_ids(session_id="cs_2", reservation_id="r_1"):
            log.info("inner")
            log.info("named", session_id="cs_3")  # a field the call names wins
            await asyncio.create_task(other_task())  # a task started here inherits the ids
        log.info("outer")
    log.info("outside")
    turn_ended = asyncio.get_running_loop().create_future()  # lines go out at a turn's end
    asyncio.get_running_loop().call_soon(turn_ended.set_result, None)
    await turn_ended
    lines = {
        line["event"]: line
        for line in map(json.loads, filter(None, capsys.readouterr().err.splitlines()))
    }
    inner, named, outer = lines["inner"], lines["named"], lines["outer"]
    assert (inner["event_id"], inner["session_id"], inner["reservation_id"]) == (
        "evt_1",
        "cs_2",
        "r_1",
    )
    assert named["session_id"] == "cs_3"
    assert lines["elsewhere"]["reservation_id"] == "r_1"
    assert (outer["event_id"], outer["session_id"]) == ("evt_1", "cs_1")
    assert "reservation_id" not in outer
    assert not {"event_id", "session_id"} & set(lines["outside"])
    assert lines["outside"]["service"] == "unit"


class _Stream:
    """A stderr that records each write and each flush."""

    def __init__(self) -> None:
        self.writes: list[str] = []
        self.flushes = 0

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        self.flushes += 1

    def isatty(self) -> bool:
        return False


async def test_lines_of_one_loop_turn_go_out_in_one_write_at_its_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure_logging("unit", LogSettings(format="json"))
    stream = _Stream()
    monkeypatch.setattr("sys.stderr", stream)
    log = get_logger("t")
    log.info("first", n=1)
    logging.getLogger("stdlib.t").warning("second")
    log.info("third", n=3)
    assert stream.writes == []  # nothing written while the turn runs
    turn_ended = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(turn_ended.set_result, None)
    await turn_ended
    assert len(stream.writes) == 1
    events = [json.loads(line)["event"] for line in stream.writes[0].splitlines()]
    assert events == ["first", "second", "third"]
    assert stream.flushes >= 1


def test_without_a_running_loop_each_line_goes_out_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    configure_logging("unit", LogSettings(format="json"))
    stream = _Stream()
    monkeypatch.setattr("sys.stderr", stream)
    get_logger("t").info("alone")
    assert [json.loads(w)["event"] for w in stream.writes] == ["alone"]

    worker = threading.Thread(target=get_logger("t").info, args=("thread",))
    worker.start()
    worker.join()
    assert [json.loads(w)["event"] for w in stream.writes] == ["alone", "thread"]


def test_lines_left_by_a_loop_that_stopped_go_out_with_the_next_loops_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure_logging("unit", LogSettings(format="json"))
    stream = _Stream()
    monkeypatch.setattr("sys.stderr", stream)

    async def next_loop() -> None:
        get_logger("t").info("next")
        turn_ended = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(turn_ended.set_result, None)
        await turn_ended

    _stop_after_logging("last words")
    assert stream.writes == []
    second = asyncio.new_event_loop()
    try:
        second.run_until_complete(next_loop())
    finally:
        second.close()
    assert [json.loads(line)["event"] for w in stream.writes for line in w.splitlines()] == [
        "last words",
        "next",
    ]


def _stop_after_logging(event: str) -> None:
    """Run a loop whose only task logs `event` and stops the loop in the same turn, so the
    turn's flush never runs on it."""

    async def log_and_stop() -> None:
        get_logger("t").info(event)
        asyncio.get_running_loop().stop()

    loop = asyncio.new_event_loop()
    try:
        stopping = loop.create_task(log_and_stop())
        loop.run_forever()
        assert stopping.done()
    finally:
        loop.close()


def test_a_line_written_without_a_loop_goes_after_the_lines_a_stopped_loop_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure_logging("unit", LogSettings(format="json"))
    stream = _Stream()
    monkeypatch.setattr("sys.stderr", stream)
    _stop_after_logging("held")
    assert stream.writes == []
    get_logger("t").info("direct")
    assert [json.loads(line)["event"] for w in stream.writes for line in w.splitlines()] == [
        "held",
        "direct",
    ]


def test_an_ordinary_exit_writes_the_lines_still_held() -> None:
    child = """
import asyncio
from backbone.logging import configure_logging, get_logger
from backbone.settings import LogSettings

async def log_and_stop():
    get_logger("t").info("at exit")
    asyncio.get_running_loop().stop()  # the turn's flush never runs

configure_logging("unit", LogSettings(format="json"))
loop = asyncio.new_event_loop()
task = loop.create_task(log_and_stop())
loop.run_forever()
"""
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=60, check=True
    )
    assert [json.loads(line)["event"] for line in done.stderr.splitlines()] == ["at exit"]
