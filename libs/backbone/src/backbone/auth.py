"""Clerk-compatible bearer tokens: RS256 JWTs verified against a JWKS URL, framework-free."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlparse

import jwt
from jwt import PyJWKClient
from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The development stack signs its own tokens (devstack.devauth); these defaults point at them, so
# a service started by `make run` needs no auth configuration. Production sets AUTH_* explicitly.
DEV_ISSUER: Final = "http://localhost/dev-auth"
DEV_AUTH_DIR: Final = Path(".data/dev-auth")
JWKS_FILENAME: Final = "jwks.json"

ALGORITHMS: Final = ("RS256",)

AuthErrorCode = Literal["missing_token", "invalid_token", "token_expired", "auth_unavailable"]


def dev_jwks_url(directory: Path | None = None) -> str:
    """The file:// URL of the development JWKS: under `directory`, else DEV_AUTH_DIR, else
    .data/dev-auth (relative to the working directory), where devstack.devauth keeps it."""
    root = directory or Path(os.environ.get("DEV_AUTH_DIR") or DEV_AUTH_DIR)
    return (root / JWKS_FILENAME).resolve().as_uri()


def _parties(value: object) -> object:
    # AUTH_AUTHORIZED_PARTIES: comma-separated origins, the way operators write them (or JSON).
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class AuthSettings(BaseSettings):
    """How bearer tokens are checked (AUTH_*); the defaults fit the development stack."""

    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore")

    jwks_url: str = Field(
        default_factory=dev_jwks_url,
        description="JWKS URL, e.g. https://<clerk-frontend-api>/.well-known/jwks.json; "
        "file:// URLs work too (the development key).",
    )
    issuer: str = Field(DEV_ISSUER, description="Expected `iss` (the Clerk frontend API URL).")
    audience: str | None = Field(None, description="Expected `aud`, if tokens carry one.")
    authorized_parties: Annotated[list[str], NoDecode, BeforeValidator(_parties)] = Field(
        default_factory=list,
        description="Accepted `azp` values, comma-separated (Clerk sets the frontend origin); "
        "empty: not checked (refused in production).",
    )
    leeway_s: float = Field(30.0, ge=0, description="Clock skew tolerated on exp, nbf and iat.")
    jwks_cache_s: float = Field(300.0, gt=0, description="How long a fetched JWKS is reused.")
    jwks_refresh_cooldown_s: float = Field(
        30.0,
        ge=0,
        description="Least time between refetches forced by an unknown `kid` (bounds the load "
        "tokens with made-up kids put on the JWKS endpoint).",
    )
    email_claim: str = Field("email", description="The claim holding the user's e-mail address.")


class AuthError(Exception):
    """A token was missing or not acceptable; `retryable` only when the key set was unreachable."""

    def __init__(self, code: AuthErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: AuthErrorCode = code
        self.message = message

    @property
    def retryable(self) -> bool:
        """Whether the same request may succeed later (the JWKS endpoint was down)."""
        return self.code == "auth_unavailable"


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for."""

    user_id: str
    email: str | None
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)


class TypedEmailRefused(ValueError):
    """An e-mail typed into a request where only the token's claim is trusted (production)."""


def confirmation_email(principal: Principal, typed: str | None, *, production: bool) -> str | None:
    """Where a user's e-mails (confirmations, receipts) go: the verified token's e-mail claim.

    An address typed into a request body is taken only in development: in production anyone
    could have another person's confirmations, or hold-expiry mails, sent to any address.
    """
    if not production:
        return principal.email or typed
    if typed is not None and typed != principal.email:
        raise TypedEmailRefused("in production e-mails go to the token's e-mail claim only")
    return principal.email


class JwtVerifier:
    """Verifies RS256 tokens: signature (key chosen by `kid`), issuer, expiry, optional audience.

    The JWKS is fetched lazily and cached for `jwks_cache_s`; a token with an unknown `kid`
    triggers one refetch (PyJWKClient's own behaviour), so a key rotation needs no restart.
    `verify` blocks on the first fetch: from async code use `averify`.
    """

    def __init__(self, settings: AuthSettings | None = None) -> None:
        self.settings = settings or AuthSettings()
        self._jwks = _jwks_client(self.settings)

    def verify(self, token: str | None) -> Principal:
        """The principal of a valid token; AuthError otherwise."""
        if not token:
            raise AuthError("missing_token", "a bearer token is required")
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise AuthError("auth_unavailable", "the signing keys could not be fetched") from exc
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
            raise AuthError("invalid_token", f"token not accepted: {exc}") from exc
        options: jwt.types.Options = {"require": ["exp", "iss", "sub"]}
        if self.settings.audience is None:
            options["verify_aud"] = False
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=list(ALGORITHMS),
                issuer=self.settings.issuer,
                audience=self.settings.audience,
                leeway=self.settings.leeway_s,
                options=options,
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token_expired", "the token has expired") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError("invalid_token", f"token not accepted: {exc}") from exc
        azp = claims.get("azp")
        if self.settings.authorized_parties and azp not in self.settings.authorized_parties:
            raise AuthError("invalid_token", "token not accepted: unexpected authorized party")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise AuthError("invalid_token", "token not accepted: no subject")
        email = claims.get(self.settings.email_claim)
        return Principal(
            user_id=subject,
            email=email if isinstance(email, str) and email else None,
            claims=claims,
        )

    async def averify(self, token: str | None) -> Principal:
        """`verify` off the event loop (the JWKS fetch is blocking I/O)."""
        return await asyncio.to_thread(self.verify, token)


def _jwks_client(settings: AuthSettings) -> PyJWKClient:
    """PyJWKClient, also for a file:// JWKS (the development key).

    PyJWT refuses non-http(s) URIs at construction, to stop a URL taken from a token header from
    reading local files. Ours comes from operator configuration, never from a token, so a file://
    URL is built with a placeholder and swapped in: urllib's default opener reads file:// URLs.
    """
    url = settings.jwks_url
    is_file = urlparse(url).scheme.lower() == "file"
    client = PyJWKClient(
        "https://localhost/jwks.json" if is_file else url,
        cache_jwk_set=True,
        lifespan=settings.jwks_cache_s,
        timeout=5,
        cooldown_duration=settings.jwks_refresh_cooldown_s,
    )
    client.uri = url
    return client


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
