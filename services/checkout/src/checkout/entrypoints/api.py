"""The checkout HTTP API: create a Checkout Session, read one back, probes and metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware

from backbone import web
from backbone.auth import JwtVerifier
from backbone.db.engine import database_probe
from backbone.db.supervision import supervise
from backbone.logging import bound_ids, get_logger
from checkout.bootstrap import Container, build_relay
from checkout.entrypoints import errors, pages, studio
from checkout.entrypoints.deps import CallerDep, ContainerDep, request_id_of
from checkout.entrypoints.schemas import (
    CheckoutSessionCreated,
    CheckoutSessionView,
    CreateCheckoutSession,
)
from checkout.service_layer.checkout import CheckoutRequest

log = get_logger(__name__)

CREATE_PATH = "/api/clerk/create-checkout-session"
# The dedicated reservation-payment path: the same endpoint under a name that says what it is.
CREATE_ALIAS = "/api/reservation-payments/checkout-session"


@asynccontextmanager
async def _relay_beside(container: Container) -> AsyncIterator[None]:
    """In development the API also relays its outbox, so `make run` needs no extra process.
    Supervised: restarted if it dies; its outage waits do not make the API unready."""
    relay, producer = build_relay(container.settings, container.engine)
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

    async def create(
        body: CreateCheckoutSession, caller: CallerDep, c: ContainerDep, request: Request
    ) -> CheckoutSessionCreated:
        """Open (or answer again) the Stripe Checkout Session for the caller's items."""
        request_id = request_id_of(request)
        with bound_ids(user_id=caller.principal.user_id):
            result = await c.checkout.create(
                CheckoutRequest(
                    user_id=caller.principal.user_id,
                    user_email=caller.email(
                        body.email, production=c.settings.environment == "production"
                    ),
                    token=caller.token,
                    request_id=request_id,
                    reservation_ids=body.reservation_ids,
                    cart_item_ids=body.cart_item_ids,
                )
            )
        return CheckoutSessionCreated(session_id=result.session.session_id, url=result.session.url)

    for path in (CREATE_PATH, CREATE_ALIAS):
        app.add_api_route(
            path,
            create,
            methods=["POST"],
            response_model=CheckoutSessionCreated,
            response_model_by_alias=True,
        )

    @app.get("/api/checkout-sessions/{session_id}", response_model_by_alias=True)
    async def one(session_id: str, caller: CallerDep, c: ContainerDep) -> CheckoutSessionView:
        """The caller's session and its status (another user's is a 404)."""
        row = await c.checkout.get(caller.principal.user_id, session_id)
        return CheckoutSessionView.of(row)

    app.include_router(studio.router)
    pages.install(app, container.settings)

    return app
