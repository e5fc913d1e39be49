"""Entrypoint: `python -m mail_sink` runs SMTP and HTTP until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from mail_sink.settings import Settings
from mail_sink.sink import MailSink


async def serve(settings: Settings) -> None:
    """Run the sink until a termination signal arrives."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with MailSink(settings) as sink:
        print(
            f"mail-sink: SMTP on {settings.smtp_host}:{sink.smtp_port}, "
            f"HTTP API on {sink.http_url}",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()


def main() -> int:
    """Read MAIL_SINK_* settings and serve."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"mail-sink: {exc}", file=sys.stderr)
        return 2
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
