"""`python -m checkout relay`: publish committed outbox rows (CheckoutSessionCreatedV1) to Kafka."""

from __future__ import annotations

import asyncio
import signal

from backbone.db.engine import make_engine
from backbone.logging import configure_logging, get_logger
from checkout.bootstrap import build_relay
from checkout.settings import get_settings

log = get_logger(__name__)


async def run() -> None:
    """Relay until SIGINT/SIGTERM; several relays may run, one is active (advisory lock)."""
    settings = get_settings()
    engine = make_engine(settings.database, application_name="checkout-relay")
    relay, producer = build_relay(settings, engine)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, relay.stop)
    try:
        await relay.run()
    finally:
        await producer.stop()
        await engine.dispose()
        log.info("relay.stopped", published=relay.published)


def main() -> int:
    """Entry point."""
    configure_logging("checkout-relay", get_settings().log)
    asyncio.run(run())
    return 0
