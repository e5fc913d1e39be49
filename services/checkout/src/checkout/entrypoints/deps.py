"""FastAPI dependencies of the checkout routes: the container and the verified caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backbone.auth import (
    JwtVerifier,
    Principal,
    TypedEmailRefused,
    bearer_token,
    confirmation_email,
)
from checkout.bootstrap import Container
from checkout.domain.model import OrderError


class Caller:
    """A verified principal and the bearer token it came with (forwarded to reservation)."""

    def __init__(self, principal: Principal, token: str) -> None:
        self.principal = principal
        self.token = token

    def email(self, typed: str | None, *, production: bool) -> str | None:
        """Where the receipt and the order's e-mails go (backbone.auth.confirmation_email)."""
        try:
            return confirmation_email(self.principal, typed, production=production)
        except TypedEmailRefused as exc:
            raise OrderError("email_not_accepted", str(exc), field="email") from exc


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def _caller(request: Request) -> Caller:
    verifier: JwtVerifier = request.app.state.verifier
    token = bearer_token(request.headers.get("authorization"))
    principal = await verifier.averify(token)
    assert token is not None  # averify refuses a missing token
    return Caller(principal, token)


def request_id_of(request: Request) -> str | None:
    """The request id the RequestIdMiddleware put in the scope."""
    value = request.scope.get("state", {}).get("request_id")
    return str(value) if value else None


ContainerDep = Annotated[Container, Depends(_container)]
CallerDep = Annotated[Caller, Depends(_caller)]
