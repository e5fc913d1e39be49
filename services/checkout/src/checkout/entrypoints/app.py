"""The checkout HTTP API (FastAPI): the app over a built container, its routers, its background
tasks (the supersede sweep, and in development the outbox relay), probes and metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from backbone import web
from backbone.auth import JwtVerifier
from backbone.db import database_probe, supervise
from checkout.bootstrap import Container
from checkout.entrypoints import errors
from checkout.entrypoints.routes import checkout_sessions, pages, studio


@asynccontextmanager
async def _relay_beside(container: Container) -> AsyncIterator[None]:
    """In development the API also relays its outbox, so `make run` needs no extra process.
    Supervised: restarted if it dies; its outage waits do not make the API unready."""
    relay, producer = container.relay()
    relay.blocks_readiness = False
    task = asyncio.create_task(supervise(relay, container.engine), name="checkout-outbox-relay")
    try:
        yield
    finally:
        relay.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=10)
        await producer.stop()


@asynccontextmanager
async def _supersede_sweep(container: Container) -> AsyncIterator[None]:
    """Retry expiring superseded sessions Stripe could not expire at once (every replica may
    run it: expiring a session twice is harmless, the second is answered as already ended)."""
    stop = asyncio.Event()
    superseder = container.checkout.superseder
    task = asyncio.create_task(
        superseder.run(container.settings.supersede_sweep_s, stop), name="checkout-supersede"
    )
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=10)


def create_app(container: Container, verifier: JwtVerifier | None = None) -> FastAPI:
    """The API over a built container (the app closes the container on shutdown)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if container.settings.should_relay_in_api:
                await stack.enter_async_context(_relay_beside(container))
            await stack.enter_async_context(_supersede_sweep(container))
            yield
        await container.close()

    app = FastAPI(title="checkout", version="1", lifespan=lifespan)
    app.state.container = container
    app.state.verifier = verifier or JwtVerifier(container.settings.auth)
    web.install(app, ready=database_probe(container.engine))
    errors.install(app)
    if container.settings.cors_origins:
        # Bearer tokens, not cookies: credentials stay off, so a cross-site page cannot ride a
        # user's session; only the configured frontends may read answers at all.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=container.settings.cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", web.REQUEST_ID_HEADER],
            expose_headers=[web.REQUEST_ID_HEADER],
            max_age=600,
        )
    app.include_router(checkout_sessions.router)
    app.include_router(studio.router)
    pages.install(app, container.settings)
    return app
