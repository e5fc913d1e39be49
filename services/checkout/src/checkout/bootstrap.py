"""The composition root: the one place real adapters are built and wired to the use cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backbone.db.engine import make_engine, session_factory
from backbone.db.relay import OutboxRelay
from backbone.kafka import Producer
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
    """What the API process needs, built once."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    reservations: ReservationClient
    checkout: CheckoutService

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


def build(settings: Settings, *, application_name: str = "checkout-api") -> Container:
    """Wire engine, unit of work, Stripe, the reservation client and the use cases (no I/O)."""
    engine = make_engine(settings.database, application_name=application_name)
    sessions = session_factory(engine)
    reservations = ReservationClient(settings.reservation_api_url, settings.reservation_timeout_s)
    stripe = StripeGateway(settings.stripe)
    uow = lambda: SqlCheckoutUnitOfWork(sessions)  # noqa: E731 - one factory for both use cases
    metrics = PrometheusMetrics()
    service = CheckoutService(
        uow=uow,
        reservations=reservations,
        stripe=stripe,
        superseder=Superseder(
            uow,
            stripe,
            lambda: datetime.now(UTC),
            metrics=metrics,
            fact_wait_s=settings.supersede_fact_wait_s,
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


def build_relay(settings: Settings, engine: AsyncEngine) -> tuple[OutboxRelay, Producer]:
    """The outbox relay of the checkout database, and the producer it owns."""
    producer = Producer(settings.kafka, client_id="checkout-relay")
    return OutboxRelay(engine, producer, settings.kafka, source=settings.relay_source), producer
