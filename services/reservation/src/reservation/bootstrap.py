"""The composition root: the one place real adapters are built and wired to the use cases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backbone.db.engine import make_engine, session_factory
from backbone.kafka import BatchHandler
from reservation.adapters import migrations
from reservation.adapters.metrics import PrometheusObserver
from reservation.adapters.records import make_handler
from reservation.adapters.stripe_gateway import StripeGateway
from reservation.adapters.unit_of_work import UnitOfWork
from reservation.service_layer.payments import PaymentService
from reservation.service_layer.refund_executor import RefundExecutor, RefundGateway
from reservation.settings import Settings


def utc_now() -> datetime:
    """The clock every use case reads."""
    return datetime.now(UTC)


@dataclass
class Container:
    """What a process of the service needs, built once."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    payments: PaymentService
    refunds: RefundExecutor
    stripe: StripeGateway  # one client for refunds, overdue look-ups and reconciliation
    batch_handler: BatchHandler  # a single message is a batch of one
    observer: PrometheusObserver  # what every use case reports goes to Prometheus

    def uow(self, correlation_id: str | None = None) -> UnitOfWork:
        """A new unit of work."""
        return UnitOfWork(self.sessions, correlation_id, self.observer)

    async def close(self) -> None:
        """Release the database pool."""
        await self.engine.dispose()


def prepare_database(settings: Settings) -> None:
    """Migrate and seed when the settings ask for it (development start-up)."""
    url = settings.database.url.get_secret_value()
    if settings.should_migrate:
        migrations.migrate(url)
    if settings.should_seed:
        migrations.seed_catalog(url)


def build(
    settings: Settings,
    *,
    application_name: str = "reservation",
    gateway: RefundGateway | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Container:
    """Wire engine, unit of work, Stripe, the payment service and the refund executor (no I/O
    until first use)."""
    engine = make_engine(settings.database, application_name=application_name)
    sessions = session_factory(engine)
    observer = PrometheusObserver()

    def uow(correlation_id: str | None = None) -> UnitOfWork:
        return UnitOfWork(sessions, correlation_id, observer)

    payments = PaymentService(uow=uow, consumer=settings.consumer_group, clock=clock)
    stripe = StripeGateway(settings.stripe)
    refunds = RefundExecutor(
        uow=uow,
        gateway=gateway or stripe,
        observer=observer,
        # stripe-python's own retries sleep up to 2 s between attempts.
        call_bound_s=(settings.stripe.request_timeout_s + 2)
        * (settings.stripe.max_network_retries + 1),
        backoff_max_s=settings.refund_backoff_max_s,
        clock=clock,
    )
    # A batch that may have recorded a refund wakes the executor (carried out within a tick).
    batch_handler = make_handler(payments, on_applied=refunds.wake)
    return Container(settings, engine, sessions, payments, refunds, stripe, batch_handler, observer)
