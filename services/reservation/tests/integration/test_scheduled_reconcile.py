"""Reconciliation runs by itself: one worker at a time, beats orders included, paid sessions left
unsettled repaired (not only reported), and its last run and findings exported as metrics."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import stripe

from backbone.kafka import Producer
from contracts import stripe as s
from reservation.adapters.money_metrics import RECONCILE_LAST_RUN, RECONCILE_MISMATCHES
from reservation.adapters.stripe_gateway import StripeGateway
from reservation.adapters.stripe_replay import republisher
from reservation.bootstrap import Container
from reservation.service_layer.scheduled_reconcile import ScheduledReconcile
from reservation.settings import Settings

from ..conftest import emulator_paid_event, reservation_state, told_by_checkout
from .test_orders import BEATS, CART_TOTAL, EMAIL, USER, _fact, _order
from .test_worker import _env, _process

pytestmark = pytest.mark.integration

Book = Callable[..., Any]


def _reconciler(container: Container, settings: Settings, producer: Producer) -> ScheduledReconcile:
    return ScheduledReconcile(
        engine=container.engine,
        uow=lambda: container.uow(None),
        stripe=StripeGateway(settings.stripe),
        payments=container.payments,
        publish=republisher(producer.send_many),
        consumer=settings.consumer_group,
        window_s=3600,
        observer=container.observer,
    )


def _mark_applied(database_url: str, consumer: str, event_id: str) -> None:
    """The event is in our inbox, yet what it said is not in the rows (a restore, a bug)."""
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO inbox (consumer, event_id) VALUES (%s, %s)", (consumer, event_id))


def _paid_beats_session(client: stripe.StripeClient, emulator_url: str) -> tuple[str, str]:
    """A beats-only session paid on the emulator; its id and its completed event's id."""
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "success_url": "https://example.test/ok",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": b.price,
                        "product_data": {"name": b.title},
                    },
                }
                for b in BEATS
            ],
            "metadata": {
                "userId": USER,
                "userEmail": EMAIL,
                "type": "beats_only",
                "cartItemIds": ",".join(b.item_id for b in BEATS),
                "servicesCount": "0",
                "servicesTotal": "0",
                "cartCount": str(len(BEATS)),
                "cartTotal": str(CART_TOTAL),
                "orderTotal": str(CART_TOTAL),
            },
        }
    )
    httpx.post(
        f"{emulator_url}/_emulator/checkout/sessions/{session.id}/complete",
        json={"outcome": "paid"},
    ).raise_for_status()
    events = client.v1.events.list(params={"type": s.CHECKOUT_SESSION_COMPLETED, "limit": 100})
    [event] = [e for e in events.data if e.data.object.id == session.id]
    return str(session.id), str(event.id)


async def test_a_pass_repairs_paid_sessions_left_unsettled_reservations_and_orders(
    container: Container,
    settings: Settings,
    book: Book,
    stripe_client: stripe.StripeClient,
    emulator_url: str,
    reservation_db: str,
) -> None:
    consumer = settings.consumer_group
    row = await book()
    paid = emulator_paid_event(stripe_client, emulator_url, row)
    await told_by_checkout(container, paid, [row])
    _mark_applied(reservation_db, consumer, paid["id"])
    order_sid, order_event = _paid_beats_session(stripe_client, emulator_url)
    await container.batch_handler(
        [_fact(order_sid)]
    )  # checkout told what it sold: the order is open
    _mark_applied(reservation_db, consumer, order_event)
    assert _order(reservation_db, order_sid)["status"] == "open"

    producer = Producer(settings.kafka)
    reconciler = _reconciler(container, settings, producer)
    try:
        assert await reconciler.tick() == "repaired"
        assert RECONCILE_MISMATCHES.labels("paid_not_settled")._value.get() == 1
        assert RECONCILE_MISMATCHES.labels("order_not_settled")._value.get() == 1
        assert reservation_state(reservation_db, row.id)["status"] == "succeeded"
        assert _order(reservation_db, order_sid)["status"] == "confirmed"
        # The next pass finds nothing left, and says when it ran.
        assert await reconciler.tick() == "clean"
        assert RECONCILE_MISMATCHES.labels("paid_not_settled")._value.get() == 0
        assert RECONCILE_LAST_RUN._value.get() > time.time() - 60
        # One reconciler at a time: another process waits until this one lets go.
        other = _reconciler(container, settings, producer)
        assert await other.tick() == "skipped"
        await reconciler.release()
        assert await other.tick() == "clean"
        await other.release()
    finally:
        await reconciler.release()
        await producer.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
async def test_the_worker_reconciles_on_its_own_and_exports_when(
    container: Container,
    settings: Settings,
    book: Book,
    stripe_client: stripe.StripeClient,
    emulator_url: str,
    reservation_db: str,
    tmp_path: Path,
) -> None:
    from devstack.testing import eventually

    row = await book()
    # Paid on Stripe; the emulator has no webhook endpoint, so the event never reached us.
    await told_by_checkout(container, emulator_paid_event(stripe_client, emulator_url, row), [row])
    port = _free_port()
    env = {
        **_env(settings, settings.consumer_group),
        "RESERVATION_RECONCILE_INTERVAL_S": "1",
        "RESERVATION_RECONCILE_WINDOW_S": "3600",
        "RESERVATION_WORKER_METRICS_PORT": str(port),
        "RESERVATION_WORKER_METRICS_HOST": "127.0.0.1",
    }
    worker = _process("worker", env, tmp_path / "w.log", "--without-web").start()
    try:

        async def settled() -> bool:
            return reservation_state(reservation_db, row.id)["status"] == "succeeded"

        await eventually(settled, timeout=90, interval=0.5, what=lambda: worker.output()[-3000:])

        async def exported() -> bool:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.HTTPError:
                return False
            lines = [
                line
                for line in text.splitlines()
                if line.startswith("reservation_reconcile_last_run_timestamp_seconds ")
            ]
            return bool(lines) and float(lines[0].split()[1]) > 0

        await eventually(exported, timeout=30, interval=0.5, what="the last run exported")
    finally:
        worker.terminate()


async def test_the_operators_cli_repairs_a_paid_session_left_unsettled_too(
    container: Container,
    settings: Settings,
    book: Book,
    stripe_client: stripe.StripeClient,
    emulator_url: str,
    reservation_db: str,
) -> None:
    from rich.console import Console

    from reservation.entrypoints.reconcile import reconcile

    row = await book()
    paid = emulator_paid_event(stripe_client, emulator_url, row)
    await told_by_checkout(container, paid, [row])
    _mark_applied(reservation_db, settings.consumer_group, paid["id"])
    console = Console(record=True, width=200)
    assert await reconcile(settings, 3600, dry_run=True, wait_s=0, console=console) == 1
    assert "paid_not_settled" in console.export_text()
    assert await reconcile(settings, 3600, dry_run=False, wait_s=0, console=console) == 0
    assert reservation_state(reservation_db, row.id)["status"] == "succeeded"
