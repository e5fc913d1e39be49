"""What the observability tests share: the JSON log lines of a process and one payment's ids."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from devstack.running import RunningStack

# The processes of our services (the emulator and the mail sink stand in for third parties).
SERVICES = (
    "webhook-ingest",
    "checkout",
    "reservation-api",
    "reservation-worker",
    "reservation-relay",
    "notifier",
)


@dataclass(frozen=True)
class LogLine:
    """One JSON log line of one process."""

    process: str
    fields: dict[str, Any]

    @property
    def event(self) -> str:
        """The structlog event name."""
        return str(self.fields.get("event", ""))

    def mentions(self, value: str) -> bool:
        """Whether any field holds `value` (or a list holding it)."""
        return value in json.dumps(self.fields)


def json_lines(process: str, text: str) -> list[LogLine]:
    """The JSON objects of a process's output (other lines, e.g. Faust's banner, are skipped)."""
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("{"):
            continue
        with contextlib.suppress(ValueError):
            doc = json.loads(line)
            if isinstance(doc, dict):
                lines.append(LogLine(process, doc))
    return lines


@dataclass
class PaymentRun:
    """What one paid reservation left behind."""

    stack: RunningStack
    user_token: str
    user_email: str
    reservation_id: str
    session_id: str
    stripe_event_ids: list[str]

    def raw_logs(self) -> dict[str, str]:
        """Every process's output, as written."""
        return self.stack.logs()

    def lines(self, process: str) -> list[LogLine]:
        """The JSON log lines of one process."""
        return json_lines(process, self.stack.logs().get(process, ""))
