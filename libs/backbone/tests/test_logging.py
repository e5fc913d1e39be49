"""Logging: JSON lines off a terminal, ids bound per message or request, secrets never written."""

from __future__ import annotations

import json

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
