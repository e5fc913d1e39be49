"""`python -m checkout relay`: publish committed outbox rows (CheckoutSessionCreatedV1) to Kafka."""

from __future__ import annotations

import asyncio

from backbone.db.engine import make_engine
from backbone.db.supervision import serve_until_signalled
from backbone.logging import configure_logging
from checkout.bootstrap import build_relay
from checkout.settings import get_settings


async def run() -> None:
    """Relay until SIGINT/SIGTERM; several relays may run, one is active (advisory lock)."""
    settings = get_settings()
    engine = make_engine(settings.database, application_name="checkout-relay")
    relay, producer = build_relay(settings, engine)
    await serve_until_signalled(relay, producer, engine)


def main() -> int:
    """Entry point."""
    configure_logging("checkout-relay", get_settings().log)
    asyncio.run(run())
    return 0
