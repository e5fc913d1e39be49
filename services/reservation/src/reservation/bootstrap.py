"""The composition root: the one place the reservation service's adapters are built and wired.

`build(settings, **overrides)` returns a Container; each process takes from it what it runs (the
API its use cases, the relay its relay, reconcile its gateway and a producer, the worker its Faust
app with the hold sweep, the refund rounds and the scheduled jobs). Nothing connects before first
use. The keyword overrides let tests swap a part: the refund gateway, the clock, broker settings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backbone.db import INBOX, OutboxRelay, Pruner, make_engine, session_factory
from backbone.kafka import BatchHandler, DeadLetterWriter, Producer
from backbone.logging import get_logger
from backbone.settings import KafkaSettings
from contracts.topics import CHECKOUT_SESSIONS, STRIPE_EVENTS, retry_topic
from reservation.adapters import migrations
from reservation.adapters.metrics import PrometheusObserver
from reservation.adapters.records import make_handler
from reservation.adapters.stripe_gateway import StripeGateway
from reservation.adapters.stripe_replay import republisher
from reservation.adapters.unit_of_work import UnitOfWork
from reservation.service_layer.overdue import OverdueSessions
from reservation.service_layer.payments import PaymentService
from reservation.service_layer.provenance import flag_overdue
from reservation.service_layer.refund_executor import RefundExecutor, RefundGateway
from reservation.service_layer.scheduled_reconcile import ScheduledReconcile
from reservation.service_layer.sweep import expire_due_holds
from reservation.settings import Settings

if TYPE_CHECKING:
    import faust

log = get_logger(__name__)

# Names the reservation outbox in the outbox-id header (the relay's exactly-once check).
OUTBOX_SOURCE = "reservation"


def utc_now() -> datetime:
    """The clock every use case reads."""
    return datetime.now(UTC)


@dataclass
class Container:
    """What a process of the service needs, built once; the parts only some processes use
    (producers, the relay, the worker's app and jobs) are built when asked for."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    payments: PaymentService
    refunds: RefundExecutor
    stripe: StripeGateway  # one client for refunds, overdue look-ups and reconciliation
    batch_handler: BatchHandler  # a single message is a batch of one
    observer: PrometheusObserver  # what every use case reports goes to Prometheus
    clock: Callable[[], datetime] = field(default=utc_now)

    def uow(self, correlation_id: str | None = None) -> UnitOfWork:
        """A new unit of work."""
        return UnitOfWork(self.sessions, correlation_id, self.observer)

    def producer(self, client_id: str) -> Producer:
        """A producer to the broker (started on first send; the caller stops it)."""
        return Producer(self.settings.kafka, client_id=client_id)

    def relay(self) -> tuple[OutboxRelay, Producer]:
        """The outbox relay to reservation.events, and the producer it owns."""
        producer = self.producer("reservation-relay")
        relay = OutboxRelay(self.engine, producer, self.settings.kafka, source=OUTBOX_SOURCE)
        return relay, producer

    def overdue_sessions(self) -> OverdueSessions:
        """The overdue look-up: sessions Stripe never told us about, asked of Stripe."""
        return OverdueSessions(
            uow=lambda: self.uow(None),
            stripe=self.stripe,
            payments=self.payments,
            grace=timedelta(seconds=self.settings.overdue_grace_s),
            clock=self.clock,
            observer=self.observer,
        )

    def scheduled_reconcile(self, producer: Producer) -> ScheduledReconcile:
        """The scheduled reconciliation, republishing through `producer`."""
        return ScheduledReconcile(
            engine=self.engine,
            uow=lambda: self.uow(None),
            stripe=self.stripe,
            payments=self.payments,
            publish=republisher(producer.send_many),
            consumer=self.settings.consumer_group,
            window_s=self.settings.reconcile_window_s,
            observer=self.observer,
        )

    def hold_sweep(self) -> Callable[[], Awaitable[None]]:
        """One tick of the sweep: old inbox rows pruned (at most once per PRUNE_INTERVAL_S),
        expired holds released, paid sessions checkout never told us about flagged."""
        pruner = Pruner(self.engine, [INBOX])

        async def sweep() -> None:
            await pruner.maybe_run()  # never raises
            try:
                expired = await expire_due_holds(
                    lambda: self.uow(None), self.clock(), observer=self.observer
                )
            except Exception:
                log.exception("sweep.failed")  # the next tick tries again
                return
            if expired:
                log.info("sweep.expired_holds", count=expired)
            try:  # paid sessions checkout never told us about: flagged, never confirmed
                await flag_overdue(
                    lambda: self.uow(None),
                    self.payments.apply,
                    self.clock(),
                    self.settings.checkout_fact_grace_s,
                )
            except Exception:
                log.exception("sweep.unverified_failed")

        return sweep

    def consumer_app(self) -> faust.App:
        """The worker's Faust app: the payments agent (bounded retries, then <group>.dlq), and
        the timers every worker runs: the hold sweep, the refund rounds, the overdue look-ups
        and the scheduled reconciliation (only the worker holding its lock reconciles)."""
        from backbone.faust import create_faust_app, resilient_agent

        settings = self.settings
        group = settings.consumer_group
        app = create_faust_app(group, settings.kafka, datadir=str(settings.data_dir))
        dead_letters, producer = self.dead_letters()
        resilient_agent(
            app,
            self.batch_handler,
            topics=worker_topics(settings),
            producer=producer,
            retry=settings.retry,
            name=f"{group}.payments",
            dead_letters=dead_letters,
            batch_max_size=settings.batch_max_size,
        )
        sweep = self.hold_sweep()
        overdue = self.overdue_sessions()
        reconcile = self.scheduled_reconcile(self.producer(f"{group}-reconcile"))

        @app.timer(settings.sweep_interval_s, on_leader=False)  # type: ignore[untyped-decorator]
        async def sweep_holds() -> None:
            await sweep()

        @app.timer(settings.overdue_interval_s, on_leader=False)  # type: ignore[untyped-decorator]
        async def resolve_overdue_sessions() -> None:
            try:
                resolved = await overdue.run_once()
            except Exception:
                log.exception("overdue.tick_failed")  # the next tick tries again
                return
            if resolved:
                log.info("overdue.resolved_sessions", count=resolved)

        @app.timer(settings.reconcile_interval_s, on_leader=False)  # type: ignore[untyped-decorator]
        async def reconcile_with_stripe() -> None:
            await reconcile.tick()

        @app.timer(settings.refund_interval_s, on_leader=False)  # type: ignore[untyped-decorator]
        async def refunds() -> None:
            # Every worker runs it: requests are claimed with a lease (SKIP LOCKED), so two never
            # carry out the same one at once, and Stripe's idempotency key covers a lapsed lease.
            # Idle, it queries nothing until woken by a batch or its idle wait is over.
            try:
                await self.refunds.run_due()
            except Exception:
                log.exception("refunds.round_failed")  # the next tick tries again

        return app

    def dead_letters(self) -> tuple[DeadLetterWriter, Producer]:
        """The worker's dead-letter writer to <group>.dlq, and the producer it writes with."""
        producer = self.producer(f"{self.settings.consumer_group}-dlq")
        return DeadLetterWriter(producer, self.settings.consumer_group), producer

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


def worker_topics(settings: Settings) -> list[str]:
    """What the payments agent reads: Stripe's events, checkout's facts, the group's retries."""
    return [STRIPE_EVENTS, CHECKOUT_SESSIONS, retry_topic(settings.consumer_group)]


def build(
    settings: Settings,
    *,
    application_name: str = "reservation",
    gateway: RefundGateway | None = None,
    stripe: StripeGateway | None = None,
    clock: Callable[[], datetime] = utc_now,
    kafka: KafkaSettings | None = None,
) -> Container:
    """Wire engine, unit of work, Stripe, the payment service and the refund executor (no I/O
    until first use). `gateway` replaces Stripe for refunds only, `stripe` everywhere."""
    if kafka is not None:
        settings = settings.model_copy(update={"kafka": kafka})
    engine = make_engine(settings.database, application_name=application_name)
    sessions = session_factory(engine)
    observer = PrometheusObserver()

    def uow(correlation_id: str | None = None) -> UnitOfWork:
        return UnitOfWork(sessions, correlation_id, observer)

    payments = PaymentService(uow=uow, consumer=settings.consumer_group, clock=clock)
    stripe = stripe or StripeGateway(settings.stripe)
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
    return Container(
        settings, engine, sessions, payments, refunds, stripe, batch_handler, observer, clock
    )
