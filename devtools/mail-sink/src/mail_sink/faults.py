"""Injected SMTP refusals: a deterministic fault for tests plus Mailpit-style chaos triggers."""

from __future__ import annotations

import secrets
import threading
from dataclasses import asdict, dataclass
from typing import Any, Literal

FaultMode = Literal["reject_all", "reject_recipient"]
FaultStage = Literal["mail", "rcpt", "data"]
ChaosKey = Literal["Sender", "Recipient", "Authentication"]

_DEFAULT_TEXT = {
    4: "4.3.0 Temporary failure, try again later (mail-sink fault)",
    5: "5.7.1 Message refused (mail-sink fault)",
}
_RECIPIENT_TEXT = {
    4: "4.2.1 Mailbox temporarily unavailable (mail-sink fault)",
    5: "5.1.1 Mailbox unavailable (mail-sink fault)",
}
_CHAOS_DEFAULTS: dict[ChaosKey, int] = {"Sender": 451, "Recipient": 451, "Authentication": 535}


@dataclass(frozen=True)
class Fault:
    """A refusal applied to every message (reject_all) or to one recipient."""

    mode: FaultMode
    code: int = 550
    recipient: str | None = None
    stage: FaultStage = "mail"
    message: str | None = None
    times: int | None = None

    def response(self) -> str:
        """The SMTP reply line sent for this fault."""
        table = _RECIPIENT_TEXT if self.mode == "reject_recipient" else _DEFAULT_TEXT
        return f"{self.code} {self.message or table[self.code // 100]}"


@dataclass(frozen=True)
class ChaosTrigger:
    """Mailpit's chaos trigger: fail with `ErrorCode` in `Probability` percent of tries."""

    ErrorCode: int
    Probability: int = 0


def validate_code(code: int) -> int:
    """Check an SMTP refusal code is 4xx or 5xx."""
    if not 400 <= code <= 599:
        raise ValueError("code must be between 400 and 599")
    return code


class Faults:
    """Current fault configuration, consulted by the SMTP handler at each stage."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault: Fault | None = None
        self._remaining: int | None = None
        self._chaos: dict[ChaosKey, ChaosTrigger] = {}
        self.reset_chaos()

    def set(self, fault: Fault | None) -> None:
        """Install `fault` (None clears it)."""
        if fault is not None:
            validate_code(fault.code)
            if fault.mode == "reject_recipient" and not fault.recipient:
                raise ValueError("reject_recipient needs a recipient")
            if fault.times is not None and fault.times < 1:
                raise ValueError("times must be at least 1")
        with self._lock:
            self._fault = fault
            self._remaining = None if fault is None else fault.times

    def describe(self) -> dict[str, Any]:
        """The active fault as JSON, with how many refusals remain (None: unlimited)."""
        with self._lock:
            if self._fault is None:
                return {"mode": "none"}
            return {**asdict(self._fault), "remaining": self._remaining}

    def set_chaos(self, triggers: dict[ChaosKey, ChaosTrigger]) -> None:
        """Replace all chaos triggers; omitted ones are reset to 0% like Mailpit."""
        for trigger in triggers.values():
            validate_code(trigger.ErrorCode)
            if not 0 <= trigger.Probability <= 100:
                raise ValueError("probability must be between 0 and 100")
        with self._lock:
            self._chaos = {k: ChaosTrigger(v) for k, v in _CHAOS_DEFAULTS.items()}
            self._chaos.update(triggers)

    def reset_chaos(self) -> None:
        """Disable every chaos trigger."""
        self.set_chaos({})

    def chaos(self) -> dict[str, dict[str, int]]:
        """Chaos triggers shaped like Mailpit's GET /api/v1/chaos."""
        with self._lock:
            return {k: asdict(v) for k, v in self._chaos.items()}

    def _consume(self, fault: Fault) -> str:
        if self._remaining is not None:
            self._remaining -= 1
            if self._remaining <= 0:
                self._fault = None
                self._remaining = None
        return fault.response()

    def _roll(self, key: ChaosKey) -> str | None:
        trigger = self._chaos[key]
        if trigger.Probability and secrets.randbelow(100) < trigger.Probability:
            return f"{trigger.ErrorCode} Chaos {key.lower()} error (mail-sink)"
        return None

    def on_mail(self) -> str | None:
        """Refusal for MAIL FROM, if any."""
        with self._lock:
            fault = self._fault
            if fault is not None and fault.mode == "reject_all" and fault.stage == "mail":
                return self._consume(fault)
            return self._roll("Sender")

    def on_rcpt(self, address: str) -> str | None:
        """Refusal for RCPT TO `address`, if any."""
        with self._lock:
            fault = self._fault
            if fault is not None:
                targeted = fault.mode == "reject_recipient" and (
                    (fault.recipient or "").lower() == address.lower()
                )
                if targeted or (fault.mode == "reject_all" and fault.stage == "rcpt"):
                    return self._consume(fault)
            return self._roll("Recipient")

    def on_data(self) -> str | None:
        """Refusal after DATA, if any."""
        with self._lock:
            fault = self._fault
            if fault is not None and fault.mode == "reject_all" and fault.stage == "data":
                return self._consume(fault)
            return None

    def on_auth(self) -> str | None:
        """Refusal for AUTH, if any."""
        with self._lock:
            return self._roll("Authentication")
