"""Fixtures of the reservation tests: a migrated database, the Stripe emulator, tokens, builders."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import stripe
import uvicorn
from pydantic import SecretStr

from backbone.auth import AuthSettings
from backbone.kafka import Message
from backbone.settings import DatabaseSettings, KafkaSettings, RetrySettings
from contracts import headers as h
from contracts.checkout import CheckoutSessionCreatedV1
from contracts.topics import CHECKOUT_SESSIONS, STRIPE_EVENTS
from devstack.devauth import DevAuth
from devstack.testing import distinct_slot
from reservation.adapters.migrations import migrate, seed_catalog
from reservation.adapters.tables import ReservationRow
from reservation.bootstrap import Container, build
from reservation.service_layer import booking
from reservation.settings import Settings, StripeSettings
from stripe_emulator import EmulatorSettings, create_app

API_KEY = "sk_test_reservation_tests"


def migrated_and_seeded(url: str) -> None:
    """Every migration applied and the development catalog seeded (the template of each test)."""
    migrate(url)
    seed_catalog(url)


@pytest.fixture
def reservation_db(migrated_database: Callable[[str, Callable[[str], None]], str]) -> str:
    """A new database with every migration applied and the development catalog seeded."""
    return migrated_database("reservation", migrated_and_seeded)


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    """The Stripe emulator over real HTTP (no webhook endpoint: events are only recorded)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = EmulatorSettings(port=port, min_session_lifetime=0, expiry_sweep_interval=3600)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the emulator did not start"
        time.sleep(0.01)
    yield settings.base_url
    server.should_exit = True
    thread.join(timeout=5)
    sock.close()


@pytest.fixture
def stripe_client(emulator_url: str) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": emulator_url}, max_network_retries=0)


@pytest.fixture(scope="session")
def dev_auth(tmp_path_factory: pytest.TempPathFactory) -> DevAuth:
    return DevAuth(tmp_path_factory.mktemp("dev-auth"), issuer="https://auth.reservation.test")


@pytest.fixture
def settings(
    reservation_db: str,
    kafka_settings: KafkaSettings,
    emulator_url: str,
    dev_auth: DevAuth,
    tmp_path: Path,
    unique: str,
) -> Settings:
    dev_auth.ensure()
    return Settings(
        environment="production",
        consumer_group=f"reservation-{unique}",
        data_dir=tmp_path / "faust",
        sweep_interval_s=0.5,
        reconcile_wait_s=30,
        kafka=kafka_settings,
        database=DatabaseSettings(url=SecretStr(reservation_db), pool_size=20),
        retry=RetrySettings(max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.05),
        auth=AuthSettings(jwks_url=dev_auth.jwks_url, issuer=dev_auth.issuer),
        stripe=StripeSettings(
            api_key=SecretStr(API_KEY), api_base=emulator_url, max_network_retries=0
        ),
    )


@pytest.fixture
async def container(settings: Settings) -> AsyncIterator[Container]:
    built = build(settings, application_name="reservation-tests")
    yield built
    await built.close()


@pytest.fixture
def book(container: Container) -> Callable[..., Any]:
    """Book a slot through the service layer: `await book(starts_in=timedelta(days=3))`."""

    async def make(
        *,
        user_id: str = "user_1",
        email: str = "ada@example.com",
        service_id: str = "mixing",
        starts_at: datetime | None = None,
        hold_minutes: int = 30,
        now: datetime | None = None,
    ) -> ReservationRow:
        now = now or datetime.now(UTC)
        start = starts_at or distinct_slot(days=30, window_hours=5_000)
        return await booking.book(
            container.uow(),
            user_id=user_id,
            user_email=email,
            service_id=service_id,
            starts_at=start,
            now=now,
            hold_minutes=hold_minutes,
        )

    return make


def stripe_event(
    event_type: str,
    session_id: str,
    reservations: list[ReservationRow],
    *,
    payment_status: str = "paid",
    amount_total: int | None = None,
    currency: str = "eur",
    created: int | None = None,
    payment_intent: str | None = None,
    event_id: str | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Stripe event about a checkout session paying `reservations`, shaped as Stripe's;
    `metadata` replaces checkout's metadata of a reservations-only session."""
    total = sum(r.amount for r in reservations) if amount_total is None else amount_total
    ids = ",".join(r.id for r in reservations)
    now = int(time.time())
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "api_version": "2024-06-20",
        "created": now,
        "livemode": False,
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "created": created or now,
                "status": "expired" if event_type.endswith("expired") else "complete",
                "payment_status": payment_status,
                "amount_total": total,
                "currency": currency,
                "payment_intent": payment_intent or f"pi_{session_id[-12:]}",
                "metadata": metadata
                or {
                    "userId": reservations[0].user_id,
                    "userEmail": reservations[0].user_email,
                    "type": "reservation_payment",
                    "reservationIds": ids,
                    "servicesCount": str(len(reservations)),
                    "servicesTotal": str(total),
                    "cartCount": "0",
                    "cartTotal": "0",
                    "orderTotal": str(total),
                },
            }
        },
    }


def stripe_message(event: dict[str, Any], offset: int = 0) -> Message:
    """A record as webhook-ingest writes it on stripe.events."""
    import json

    return Message(
        topic=STRIPE_EVENTS,
        partition=0,
        offset=offset,
        key=event["data"]["object"]["id"].encode(),
        value=json.dumps(event).encode(),
        headers=(
            (h.STRIPE_EVENT_ID, event["id"].encode()),
            (h.STRIPE_EVENT_TYPE, event["type"].encode()),
        ),
    )


def checkout_fact(
    session_id: str, reservations: list[ReservationRow], occurred_at: datetime | None = None
) -> CheckoutSessionCreatedV1:
    """CheckoutSessionCreatedV1 as checkout publishes it."""
    total = sum(r.amount for r in reservations)
    now = occurred_at or datetime.now(UTC)
    return CheckoutSessionCreatedV1(
        event_id=uuid.uuid4(),
        occurred_at=now,
        session_id=session_id,
        user_id=reservations[0].user_id,
        user_email=reservations[0].user_email,
        checkout_type="reservation_payment",
        reservation_ids=[r.id for r in reservations],
        services_total=total,
        cart_total=0,
        order_total=total,
        currency="eur",
        expires_at=now + timedelta(minutes=30),
        url=f"https://checkout.example/{session_id}",
    )


async def told_by_checkout(
    container: Container, session: str | dict[str, Any], reservations: list[ReservationRow]
) -> None:
    """Checkout's CheckoutSessionCreatedV1 for `session` (an id, or a Stripe event of it)
    handled by the worker, as it always is before anyone can pay that session."""
    session_id = session if isinstance(session, str) else session["data"]["object"]["id"]
    await container.batch_handler([checkout_message(checkout_fact(session_id, reservations))])


def checkout_message(fact: CheckoutSessionCreatedV1, offset: int = 0) -> Message:
    """A record as checkout writes it on checkout.sessions."""
    return Message(
        topic=CHECKOUT_SESSIONS,
        partition=0,
        offset=offset,
        key=fact.session_id.encode(),
        value=fact.model_dump_json().encode(),
        headers=(
            (h.EVENT_ID, str(fact.event_id).encode()),
            (h.EVENT_TYPE, fact.event_type.encode()),
        ),
    )


@pytest.fixture
async def api_url(container: Container) -> AsyncIterator[str]:
    """The API served by uvicorn on a free port, in this event loop."""
    import asyncio

    from reservation.entrypoints.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(container), log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "the API did not start"
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
    sock.close()


@pytest.fixture
def token(dev_auth: DevAuth) -> Callable[..., str]:
    """`token("user_1")`: a bearer token the API accepts."""

    def make(user_id: str = "user_1", email: str | None = "ada@example.com", ttl: int = 600) -> str:
        return dev_auth.issue_token(user_id, email, ttl)

    return make


def outbox_facts(database_url: str) -> list[Any]:
    """Every fact written to the outbox, in order, parsed with the contracts model."""
    import psycopg

    from contracts.reservation import parse_fact

    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT key, value FROM outbox ORDER BY id").fetchall()
    facts = [parse_fact(bytes(value)) for _, value in rows]
    assert all(
        bytes(k).decode() == f.partition_key() for (k, _), f in zip(rows, facts, strict=True)
    )
    return facts


def reservation_state(database_url: str, reservation_id: str) -> dict[str, Any]:
    """A reservation's row as a dict."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        row = conn.execute("SELECT * FROM reservations WHERE id = %s", (reservation_id,)).fetchone()
    assert row is not None
    return dict(row)


def emulator_session(
    client: stripe.StripeClient, row: Any, *, expires_at: int | None = None
) -> Any:
    """A real session on the emulator for `row`, with checkout's metadata."""
    params: dict[str, Any] = {
        "mode": "payment",
        "success_url": "https://example.test/ok",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "eur",
                    "unit_amount": row.amount,
                    "product_data": {"name": row.service_name},
                },
            }
        ],
        "metadata": {
            "userId": row.user_id,
            "userEmail": row.user_email,
            "type": "reservation_payment",
            "reservationIds": row.id,
            "servicesCount": "1",
            "servicesTotal": str(row.amount),
            "cartCount": "0",
            "cartTotal": "0",
            "orderTotal": str(row.amount),
        },
    }
    if expires_at is not None:
        params["expires_at"] = expires_at
    return client.v1.checkout.sessions.create(params=params)


def emulator_paid_event(
    stripe_client: stripe.StripeClient, emulator_url: str, row: Any
) -> dict[str, Any]:
    """A real session on the emulator paying `row`, completed there; its completed event."""
    import httpx

    session = emulator_session(stripe_client, row)
    httpx.post(
        f"{emulator_url}/_emulator/checkout/sessions/{session.id}/complete",
        json={"outcome": "paid"},
    ).raise_for_status()
    events = stripe_client.v1.events.list(
        params={"type": "checkout.session.completed", "limit": 100}
    )
    [event] = [e for e in events.data if e.data.object.id == session.id]
    return event.to_dict()


def refund_event(
    event_type: str,
    payment_intent: str,
    amount: int,
    *,
    refund_id: str | None = None,
    status: str = "succeeded",
    metadata: dict[str, str] | None = None,
) -> Message:
    """A refund.* event (or charge.refund.updated) about one refund, as Stripe sends it, keyed by
    its payment intent as webhook-ingest keys it."""
    import json

    event = {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "data": {
            "object": {
                "id": refund_id or f"re_{uuid.uuid4().hex[:24]}",
                "object": "refund",
                "amount": amount,
                "currency": "eur",
                "status": status,
                "payment_intent": payment_intent,
                "charge": f"ch_{payment_intent[3:]}",
                "metadata": metadata or {},
                "failure_reason": "expired_or_canceled_card" if status == "failed" else None,
            }
        },
    }
    return Message(
        topic=STRIPE_EVENTS,
        partition=0,
        offset=0,
        key=payment_intent.encode(),
        value=json.dumps(event).encode(),
        headers=(
            (h.STRIPE_EVENT_ID, event["id"].encode()),
            (h.STRIPE_EVENT_TYPE, event_type.encode()),
        ),
    )
