"""`python -m checkout relay`: publish committed outbox rows (CheckoutSessionCreatedV1) to Kafka."""

from __future__ import annotations

import asyncio

from backbone import cli
from backbone.db import serve_until_signalled
from backbone.logging import configure_logging
from checkout.bootstrap import build
from checkout.settings import Settings, get_settings


async def run(settings: Settings) -> None:
    """Relay until SIGINT/SIGTERM; several relays may run, one is active (advisory lock)."""
    container = build(settings, application_name="checkout-relay")
    relay, producer = container.relay()
    await serve_until_signalled(relay, producer, container.engine)


def main(argv: list[str]) -> int:
    """Entry point."""
    cli.parser("checkout", "relay", __doc__).parse_args(argv)
    settings = get_settings()
    configure_logging("checkout-relay", settings.log)
    asyncio.run(run(settings))
    return 0
