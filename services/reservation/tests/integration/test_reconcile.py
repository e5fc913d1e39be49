"""Reconciliation repairs a reservation whose webhook was never delivered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import stripe
from rich.console import Console

from reservation.bootstrap import Container
from reservation.entrypoints.reconcile import reconcile
from reservation.settings import Settings

from ..conftest import checkout_fact, checkout_message, emulator_paid_event, reservation_state
from .test_worker import _env, _process

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_reconcile_republishes_the_missing_event(
    settings: Settings,
    container: Container,
    book: Callable[..., Any],
    stripe_client: stripe.StripeClient,
    emulator_url: str,
    tmp_path: Path,
) -> None:
    url = settings.database.url.get_secret_value()
    row = await book()
    # Paid on Stripe; the emulator has no webhook endpoint, so the event never reached us.
    event = emulator_paid_event(stripe_client, emulator_url, row)
    # Checkout's fact did arrive (the payment is checked against it): the checkout page is open.
    await container.batch_handler(
        [checkout_message(checkout_fact(event["data"]["object"]["id"], [row]))]
    )
    console = Console(record=True, width=200)
    found = await reconcile(settings, 3600, dry_run=True, wait_s=0, console=console)
    assert found == 1
    report = console.export_text()
    assert event["id"] in report
    assert row.id in report
    assert reservation_state(url, row.id)["status"] == "processing"

    worker = _process(
        "worker", _env(settings, settings.consumer_group), tmp_path / "w.log", "--without-web"
    ).start()
    try:
        repaired = await reconcile(settings, 3600, dry_run=False, wait_s=60, console=console)
    finally:
        worker.terminate()
    assert repaired == 0, worker.output()[-3000:]
    state = reservation_state(url, row.id)
    assert state["status"] == "succeeded"
    assert state["paid_session_id"] == event["data"]["object"]["id"]
    # A second pass finds nothing, and republishes nothing.
    assert await reconcile(settings, 3600, dry_run=True, wait_s=0, console=console) == 0
