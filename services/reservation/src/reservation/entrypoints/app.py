"""The reservation HTTP API (FastAPI): the app over a built container, its routers, its errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from backbone import web
from backbone.auth import JwtVerifier
from backbone.db import database_probe
from reservation.bootstrap import Container
from reservation.entrypoints import errors
from reservation.entrypoints.deps import booking_limits
from reservation.entrypoints.routes import reservations, services


def create_app(container: Container, verifier: JwtVerifier | None = None) -> FastAPI:
    """The API over a built container (the app closes the container on shutdown)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await container.close()

    app = FastAPI(title="reservation", version="1", lifespan=lifespan)
    app.state.container = container
    app.state.verifier = verifier or JwtVerifier(container.settings.auth)
    app.state.limits = booking_limits(container.settings)
    web.install(app, ready=database_probe(container.engine))
    errors.install(app)
    app.include_router(services.router)
    app.include_router(reservations.router)
    return app
