"""The composition root: the one place the checkout service's adapters are built and wired.

`build(settings, **overrides)` returns a Container; each process takes from it what it runs (the
API its use cases and, in its lifespan, the supersede sweep and in development the outbox relay;
the relay process its relay). Nothing connects before first use. The keyword overrides let tests
swap a part: the Stripe gateway, the reservation client, the clock, broker settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backbone.db import OutboxRelay, make_engine, session_factory
from backbone.kafka import Producer
from backbone.settings import KafkaSettings
from checkout.adapters import migrations
from checkout.adapters.metrics import PrometheusMetrics
from checkout.adapters.reservations import ReservationClient
from checkout.adapters.stripe_gateway import StripeGateway
from checkout.adapters.unit_of_work import SqlCheckoutUnitOfWork
from checkout.service_layer.checkout import CheckoutPolicy, CheckoutService
from checkout.service_layer.supersede import Superseder
from checkout.settings import Settings


@dataclass
class Container:
    """What a process of the service needs, built once; the relay is built when asked for."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    reservations: ReservationClient
    checkout: CheckoutService

    def producer(self, client_id: str) -> Producer:
        """A producer to the broker (started on first send; the caller stops it)."""
        return Producer(self.settings.kafka, client_id=client_id)

    def relay(self) -> tuple[OutboxRelay, Producer]:
        """The outbox relay of the checkout database, and the producer it owns."""
        producer = self.producer("checkout-relay")
        relay = OutboxRelay(
            self.engine, producer, self.settings.kafka, source=self.settings.relay_source
        )
        return relay, producer

    async def close(self) -> None:
        """Release the database pool and HTTP connections."""
        await self.checkout.superseder.close()
        await self.reservations.close()
        await self.engine.dispose()


def prepare_database(settings: Settings) -> None:
    """Migrate, and seed the development beats, when the settings ask for it."""
    url = settings.database.url.get_secret_value()
    migrations.migrate(url)
    if settings.should_seed:
        migrations.seed_beats(url)


def utc_now() -> datetime:
    """The clock the use cases read."""
    return datetime.now(UTC)


def build(
    settings: Settings,
    *,
    application_name: str = "checkout-api",
    stripe: StripeGateway | None = None,
    reservations: ReservationClient | None = None,
    clock: Callable[[], datetime] = utc_now,
    kafka: KafkaSettings | None = None,
) -> Container:
    """Wire engine, unit of work, Stripe, the reservation client and the use cases (no I/O)."""
    if kafka is not None:
        settings = settings.model_copy(update={"kafka": kafka})
    engine = make_engine(settings.database, application_name=application_name)
    sessions = session_factory(engine)
    reservations = reservations or ReservationClient(
        settings.reservation_api_url, settings.reservation_timeout_s
    )
    stripe = stripe or StripeGateway(settings.stripe)
    uow = lambda: SqlCheckoutUnitOfWork(sessions)  # noqa: E731 - one factory for both use cases
    metrics = PrometheusMetrics()
    service = CheckoutService(
        uow=uow,
        reservations=reservations,
        stripe=stripe,
        superseder=Superseder(
            uow, stripe, clock, metrics=metrics, fact_wait_s=settings.supersede_fact_wait_s
        ),
        metrics=metrics,
        policy=CheckoutPolicy(
            success_url=settings.stripe_success_url,
            cancel_url=settings.stripe_cancel_url,
            min_lifetime=timedelta(seconds=settings.min_session_lifetime_s),
            beats_lifetime=timedelta(seconds=settings.beats_session_lifetime_s),
            status_ttl=timedelta(seconds=settings.session_status_ttl_s),
        ),
    )
    return Container(settings, engine, sessions, reservations, service)
