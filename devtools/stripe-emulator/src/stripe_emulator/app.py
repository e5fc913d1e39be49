"""The composition root: create_app(settings) wires the store, service, dispatcher and routes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from stripe_emulator import api, control, control_money, hosted
from stripe_emulator.errors import (
    StripeError,
    http_error_handler,
    stripe_error_handler,
    validation_error_handler,
)
from stripe_emulator.faults import FaultMiddleware
from stripe_emulator.payments import Payments
from stripe_emulator.settings import EmulatorSettings, get_settings
from stripe_emulator.store import Store
from stripe_emulator.webhooks import Dispatcher

log = structlog.get_logger("stripe_emulator")


async def _expire_sessions(payments: Payments, interval: float) -> None:
    """Expire open sessions once their expires_at passes, as Stripe does."""
    while True:
        await asyncio.sleep(interval)
        try:
            payments.expire_due()
        except Exception:  # keep sweeping whatever one session did
            log.exception("expiry sweep failed")


def create_app(settings: EmulatorSettings | None = None) -> FastAPI:
    """Build the emulator; each app has its own state."""
    settings = settings or get_settings()
    store = Store()
    dispatcher = Dispatcher(settings, store.events)
    payments = Payments(store, settings, dispatcher.publish)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await dispatcher.start()
        sweeper = asyncio.create_task(_expire_sessions(payments, settings.expiry_sweep_interval))
        log.info(
            "stripe emulator ready", base_url=settings.base_url, webhook_urls=dispatcher.config.urls
        )
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await dispatcher.stop()

    app = FastAPI(
        title="Stripe emulator",
        description="The part of Stripe's API this system uses, for development and tests.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.dispatcher = dispatcher
    app.state.payments = payments
    app.add_exception_handler(StripeError, stripe_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_middleware(FaultMiddleware, store=store)
    app.include_router(api.router)
    app.include_router(hosted.router)
    app.include_router(control.router)
    app.include_router(control_money.router)

    @app.get("/healthz", tags=["emulator control"])
    async def healthz() -> dict[str, str]:
        """Liveness: the emulator answers."""
        return {"status": "ok"}

    return app
