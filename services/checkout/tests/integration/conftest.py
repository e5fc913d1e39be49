"""Fixtures: the Stripe emulator, the real reservation API and the checkout API, over real HTTP.

Every test gets its own checkout and reservation databases, its own emulator (so faults and
webhook settings never leak between tests) and its own outbox relay; the broker is the session's.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backbone.auth import AuthSettings
from backbone.db import make_engine
from backbone.settings import DatabaseSettings, KafkaSettings
from checkout.adapters.migrations import migrate, seed_beats
from checkout.bootstrap import Container, build
from checkout.entrypoints.app import create_app
from checkout.settings import Settings, StripeSettings
from devstack.devauth import DevAuth
from devstack.testing import ServedApp, distinct_slot
from reservation.adapters import migrations as reservation_migrations
from reservation.bootstrap import Container as ReservationContainer
from reservation.bootstrap import build as build_reservation
from reservation.entrypoints.app import create_app as create_reservation_app
from reservation.service_layer import booking
from reservation.settings import Settings as ReservationSettings
from reservation.settings import StripeSettings as ReservationStripeSettings
from stripe_emulator import EmulatorSettings
from stripe_emulator import create_app as create_emulator

API_KEY = "sk_test_checkout_tests"
WEBHOOK_SECRET = "whsec_checkout_tests_secret"
ISSUER = "https://auth.checkout.test"
FRONTEND = "https://studio.example"

Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Any, Any], Awaitable[None]]


@dataclass(frozen=True)
class Seen:
    """One Stripe API request as the emulator received it."""

    method: str
    path: str
    stripe_version: str | None


class _Late:
    """An ASGI app set after ServedApp picked its port (the emulator needs its URL up front).

    It also notes each /v1 request (method, path, Stripe-Version): what reached "Stripe".
    """

    def __init__(self) -> None:
        self.app: ASGI | None = None
        self.seen: list[Seen] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        assert self.app is not None
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            headers = dict(scope.get("headers") or [])
            version = headers.get(b"stripe-version")
            self.seen.append(
                Seen(scope["method"], scope["path"], version.decode() if version else None)
            )
        await self.app(scope, receive, send)


@dataclass
class Emulator:
    """The Stripe emulator of one test."""

    url: str
    http: httpx.AsyncClient
    seen: list[Seen]

    async def faults(
        self,
        status: int | None,
        count: int,
        delay_s: float = 0.0,
        *,
        path_prefix: str | None = None,
        after_execute: bool = False,
    ) -> None:
        """Make the next `count` API calls fail with `status` (and/or be slow); see CONTRACTS.md
        for `path_prefix` and `after_execute` (carry the request out, then answer the fault)."""
        body: dict[str, Any] = {"api_status": status, "count": count, "delay_seconds": delay_s}
        if path_prefix is not None or after_execute:
            # The emulator before CONTRACTS.md's fault API (GET /_emulator/faults, path_prefix,
            # after_execute, requests carried out before a delay) would make these tests
            # meaningless, not wrong: they are skipped against it, never faked.
            shown = await self.http.get("/_emulator/faults")
            if shown.status_code != 200:
                pytest.skip("the Stripe emulator predates the CONTRACTS.md fault API")
        if path_prefix is not None:
            body["path_prefix"] = path_prefix
        if after_execute:
            body["after_execute"] = True
        (await self.http.post("/_emulator/faults", json=body)).raise_for_status()

    def calls(self, method: str, path_prefix: str) -> int:
        """How many API requests with this method and path prefix reached the emulator."""
        return sum(1 for s in self.seen if s.method == method and s.path.startswith(path_prefix))

    async def session(self, session_id: str) -> dict[str, Any]:
        """A Checkout Session as the Stripe API answers it."""
        response = await self.http.get(
            f"/v1/checkout/sessions/{session_id}", headers={"Authorization": f"Bearer {API_KEY}"}
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def sessions(self) -> list[dict[str, Any]]:
        """Every Checkout Session the emulator holds."""
        response = await self.http.get(
            "/v1/checkout/sessions",
            params={"limit": 100},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()["data"]
        return data


@pytest.fixture(scope="session")
def dev_auth(tmp_path_factory: pytest.TempPathFactory) -> DevAuth:
    """A signing key and JWKS of the tests (the same tokens work for both services)."""
    return DevAuth(tmp_path_factory.mktemp("dev-auth"), issuer=ISSUER).ensure()


@pytest.fixture(scope="session")
def auth_settings(dev_auth: DevAuth) -> AuthSettings:
    return AuthSettings(jwks_url=dev_auth.jwks_url, issuer=ISSUER)


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """A fresh emulator with Stripe's 30 min floor on expires_at, served on a free port."""
    late = _Late()
    async with contextlib.AsyncExitStack() as stack:
        served = ServedApp(late)
        settings = EmulatorSettings(
            port=served.port,
            webhook_secrets=[SecretStr(WEBHOOK_SECRET)],
            webhook_backoff_initial=0.05,
            webhook_backoff_max=0.2,
            expiry_sweep_interval=3600,
        )
        late.app = create_emulator(settings)
        await stack.enter_async_context(served)
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=served.url, timeout=10))
        yield Emulator(served.url, http, late.seen)


@dataclass
class Reservations:
    """The real reservation API of one test, and its container for arranging odd states."""

    url: str
    container: ReservationContainer
    http: httpx.AsyncClient

    async def book(self, token: str, service_id: str = "mixing", days: int = 3) -> dict[str, Any]:
        """Book a slot over HTTP, a unique hour `days` ahead."""
        start = distinct_slot(days=days)
        response = await self.http.post(
            "/api/reservations",
            json={"service_id": service_id, "starts_at": start.isoformat()},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def book_lapsed(self, user_id: str, email: str) -> str:
        """A pending reservation whose hold already ran out (booked an hour ago, 30 min hold)."""
        past = datetime.now(UTC) - timedelta(hours=1)
        row = await booking.book(
            self.container.uow(),
            user_id=user_id,
            user_email=email,
            service_id="recording",
            starts_at=distinct_slot(days=9),
            now=past,
            hold_minutes=30,
        )
        return row.id

    async def set_hold(self, reservation_id: str, until: datetime) -> None:
        """Move a reservation's hold expiry (as a booking made earlier would have)."""
        async with self.container.engine.begin() as conn:
            await conn.execute(
                text("UPDATE reservations SET hold_expires_at = :u WHERE id = :i"),
                {"u": until, "i": reservation_id},
            )

    async def book_direct(self, user_id: str, email: str) -> str:
        """A pending reservation booked through the service layer (no per-user API quota)."""
        row = await booking.book(
            self.container.uow(),
            user_id=user_id,
            user_email=email,
            service_id="recording",
            starts_at=distinct_slot(days=12, window_hours=5_000),
            now=datetime.now(UTC),
            hold_minutes=120,
        )
        return row.id

    async def set_status(self, reservation_id: str, status: str) -> None:
        """Put a reservation in `status` (as the payment worker would have)."""
        async with self.container.engine.begin() as conn:
            await conn.execute(
                text("UPDATE reservations SET status = :s WHERE id = :i"),
                {"s": status, "i": reservation_id},
            )


def _reservation_schema(url: str) -> None:
    """The reservation service's migrations and development catalog (a test template)."""
    reservation_migrations.migrate(url)
    reservation_migrations.seed_catalog(url)


def _checkout_schema(url: str) -> None:
    """Checkout's migrations and development beats (a test template)."""
    migrate(url)
    seed_beats(url)


@pytest.fixture
async def reservations(
    migrated_database: Callable[[str, Callable[[str], None]], str],
    kafka_settings: KafkaSettings,
    auth_settings: AuthSettings,
    emulator: Emulator,
) -> AsyncIterator[Reservations]:
    """The reservation API (its own app factory and database), holds of two hours."""
    url = await asyncio.to_thread(migrated_database, "reservation", _reservation_schema)
    settings = ReservationSettings(
        environment="production",
        hold_minutes=120,
        database=DatabaseSettings(url=SecretStr(url), pool_size=2, max_overflow=2),
        kafka=kafka_settings,
        auth=auth_settings,
        stripe=ReservationStripeSettings(api_key=SecretStr(API_KEY), api_base=emulator.url),
    )
    container = build_reservation(settings, application_name="reservation-test")
    async with (
        ServedApp(create_reservation_app(container)) as served,
        httpx.AsyncClient(base_url=served.url, timeout=10) as http,
    ):
        yield Reservations(served.url, container, http)


@dataclass
class Checkout:
    """The checkout API of one test, its database, and helpers to call and inspect it."""

    url: str
    settings: Settings
    engine: AsyncEngine
    http: httpx.AsyncClient
    relay_published: Callable[[], int]
    tmp_path: Path
    container: Container
    extra: dict[str, Any] = field(default_factory=dict)

    async def create(
        self, token: str | None, body: dict[str, Any], *, path: str | None = None
    ) -> httpx.Response:
        """POST the create endpoint."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.post(
            path or "/api/clerk/create-checkout-session", json=body, headers=headers
        )

    async def count(self, table: str) -> int:
        """Rows in one of checkout's tables."""
        assert table in ("checkout_sessions", "outbox")
        async with self.engine.connect() as conn:
            return int(await conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)

    async def add_beat(self, beat_id: str, title: str, price: int, currency: str = "eur") -> None:
        """A catalog entry for one test."""
        async with self.engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO beats (id, title, price, currency) VALUES (:i, :t, :p, :c)"),
                {"i": beat_id, "t": title, "p": price, "c": currency},
            )


def checkout_settings(
    database_url: str,
    kafka: KafkaSettings,
    auth: AuthSettings,
    stripe_base: str,
    reservation_url: str,
) -> Settings:
    """Checkout settings for tests: quick Stripe retries, one frontend origin."""
    return Settings(
        environment="production",
        relay_in_api=False,
        supersede_sweep_s=0.5,
        supersede_fact_wait_s=2.0,
        # Each test's database restarts outbox ids at 1 on the shared topic: a source per test.
        relay_source=f"checkout-{uuid.uuid4().hex[:10]}",
        cors_origins=[FRONTEND],
        public_url=FRONTEND,
        reservation_api_url=reservation_url,
        database=DatabaseSettings(url=SecretStr(database_url), pool_size=3, max_overflow=2),
        kafka=kafka,
        auth=auth,
        stripe=StripeSettings(
            api_key=SecretStr(API_KEY),
            api_base=stripe_base,
            request_timeout_s=2.0,
            max_attempts=3,
            backoff_initial_s=0.05,
            backoff_max_s=0.2,
            deadline_s=5.0,
        ),
    )


@pytest.fixture
async def checkout(
    migrated_database: Callable[[str, Callable[[str], None]], str],
    kafka_settings: KafkaSettings,
    auth_settings: AuthSettings,
    emulator: Emulator,
    reservations: Reservations,
    tmp_path: Path,
) -> AsyncIterator[Checkout]:
    """The checkout API on its own migrated, seeded database, with its outbox relay running."""
    url = await asyncio.to_thread(migrated_database, "checkout", _checkout_schema)
    settings = checkout_settings(url, kafka_settings, auth_settings, emulator.url, reservations.url)
    container = build(settings, application_name="checkout-test")
    relay, producer = container.relay()
    relay_task = asyncio.create_task(relay.run())
    engine = make_engine(DatabaseSettings(url=SecretStr(url), pool_size=1, max_overflow=1))
    try:
        async with (
            ServedApp(create_app(container)) as served,
            httpx.AsyncClient(base_url=served.url, timeout=30) as http,
        ):
            yield Checkout(
                served.url, settings, engine, http, lambda: relay.published, tmp_path, container
            )
    finally:
        relay.stop()
        await asyncio.wait_for(relay_task, timeout=10)
        await producer.stop()
        await engine.dispose()
