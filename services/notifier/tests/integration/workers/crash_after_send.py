"""Test-only notifier worker that dies by SIGKILL after the SMTP server accepted a message and
before the notifications row is marked sent, once (a marker file at CRASH_MARKER remembers).

It is the real `notifier.entrypoints.worker.run` with the real SmtpSender subclassed; nothing in
the product code knows about it. Run: python crash_after_send.py [faust worker options]
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from notifier.adapters.smtp import SmtpSender
from notifier.domain.model import RenderedEmail
from notifier.entrypoints.worker import run
from notifier.settings import get_settings


class CrashAfterSend(SmtpSender):
    """Sends, then (the first time only) kills its own process before the caller can mark."""

    async def send(self, rendered: RenderedEmail) -> None:
        await super().send(rendered)
        marker = Path(os.environ["CRASH_MARKER"])
        if not marker.exists():
            marker.write_text(rendered.message_id)
            os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    run(sys.argv[1:], sender=CrashAfterSend(get_settings()))
