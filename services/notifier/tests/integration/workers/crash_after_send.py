"""Test-only notifier worker that dies by SIGKILL right after the SMTP server accepted a message
and before the notifications row is marked sent, once (a marker file at CRASH_MARKER remembers).

It dies after the CRASH_AFTER_SENDS-th message it sent (1 by default), so with a batch under way
the messages it sent before are accepted but not yet marked; the marker file lists the
Message-IDs of all the messages it sent. It is the real `notifier.entrypoints.worker.run` with the
real SmtpSender subclassed; nothing in the product code knows about it.
Run: python crash_after_send.py [faust worker options]
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from notifier.adapters.smtp import SmtpSender
from notifier.domain.model import RenderedEmail
from notifier.entrypoints.worker import run
from notifier.settings import Settings, get_settings


class CrashAfterSend(SmtpSender):
    """Sends, then (on the N-th send, the first time only) kills its own process before the
    caller can mark anything."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.sent: list[str] = []

    async def send(self, rendered: RenderedEmail) -> None:
        await super().send(rendered)
        marker = Path(os.environ["CRASH_MARKER"])
        if marker.exists():
            return
        self.sent.append(rendered.message_id)
        if len(self.sent) >= int(os.environ.get("CRASH_AFTER_SENDS", "1")):
            marker.write_text("\n".join(self.sent))
            os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    run(sys.argv[1:], sender=CrashAfterSend(get_settings()))
