"""Production guards: a production configuration refuses to start with development values.

Each process calls these checks at start-up (a service's settings inherit `GuardedSettings`,
whose `refuse_unsafe` says what the process uses), so a process started with
`<PREFIX>_ENVIRONMENT=production` (or `STRIPE_LIVEMODE=true`) and the emulator's key, the
development JWKS, the example webhook secret or no token audience exits at once with a message
naming the variable, instead of taking payments that go to localhost or accepting forged tokens.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Final, Protocol
from urllib.parse import urlparse

from pydantic import SecretStr

from backbone.auth import DEV_ISSUER, AuthSettings, dev_jwks_url

STRIPE_API: Final = "https://api.stripe.com"
# The key the development stack and the emulator use; any key naming the emulator is refused too.
DEV_STRIPE_KEYS: Final = frozenset({"sk_test_devstack_local_emulator", "sk_test_replace_me"})
# deploy/compose.env.example's placeholder; Stripe's own secrets are whsec_ + 32 characters or more.
EXAMPLE_WEBHOOK_SECRETS: Final = frozenset({"whsec_replace_me"})
MIN_WEBHOOK_SECRET_LENGTH: Final = len("whsec_") + 32
_LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})  # noqa: S104


class UnsafeConfiguration(SystemExit):
    """A production process was given a development or example value: the process exits (status
    1) with the message on stderr, before it touches a database, a broker or Stripe."""


def livemode_from_env() -> bool:
    """STRIPE_LIVEMODE, as docker-compose and operators set it (true/1/yes: live keys)."""
    return os.environ.get("STRIPE_LIVEMODE", "").strip().lower() in {"1", "true", "yes", "on"}


def is_production(environment: str, livemode: bool | None = None) -> bool:
    """Whether the guards apply: a production environment, or a live-mode deployment."""
    live = livemode_from_env() if livemode is None else livemode
    return environment == "production" or live


def _refuse(problems: Iterable[str]) -> None:
    found = list(problems)
    if found:
        raise UnsafeConfiguration(
            "unsafe production configuration, refusing to start: " + "; ".join(found)
        )


def stripe_problems(api_key: str, api_base: str | None, *, livemode: bool) -> list[str]:
    """What is wrong with a production process's Stripe key and API base."""
    problems = []
    if api_key in DEV_STRIPE_KEYS or "emulator" in api_key or "devstack" in api_key:
        problems.append("STRIPE_API_KEY is the development/emulator key")
    elif not api_key.startswith(("sk_", "rk_")):
        problems.append("STRIPE_API_KEY is not a Stripe secret key (sk_... or rk_...)")
    live_key = api_key.startswith(("sk_live_", "rk_live_"))
    if livemode and not live_key:
        problems.append("STRIPE_API_KEY is not a live key (sk_live_) but STRIPE_LIVEMODE=true")
    if not livemode and live_key:
        problems.append("STRIPE_API_KEY is a live key (sk_live_) in a test-mode deployment")
    if api_base:
        url = urlparse(api_base)
        if url.scheme != "https" or (url.hostname or "") in _LOOPBACK or url.port == 12111:
            problems.append(
                f"STRIPE_API_BASE={api_base!r} is not Stripe ({STRIPE_API}); it looks like the"
                " emulator"
            )
    return problems


def auth_problems(auth: AuthSettings) -> list[str]:
    """What is wrong with a production process's token verification."""
    problems = []
    jwks = urlparse(auth.jwks_url)
    if auth.jwks_url == dev_jwks_url() or jwks.scheme != "https":
        problems.append(f"AUTH_JWKS_URL={auth.jwks_url!r} is the development key set (not https)")
    if auth.issuer == DEV_ISSUER or urlparse(auth.issuer).scheme != "https":
        problems.append(f"AUTH_ISSUER={auth.issuer!r} is the development issuer (not https)")
    if not auth.audience:
        problems.append("AUTH_AUDIENCE is unset: tokens minted for another application would pass")
    if not auth.authorized_parties:
        problems.append("AUTH_AUTHORIZED_PARTIES is unset: `azp` would not be checked")
    return problems


def webhook_secret_problems(secrets: Iterable[str]) -> list[str]:
    """What is wrong with a production endpoint's signing secrets."""
    problems = []
    for position, secret in enumerate(secrets, start=1):
        if secret in EXAMPLE_WEBHOOK_SECRETS:
            problems.append(
                f"STRIPE_WEBHOOK_SECRET (secret {position}) is the example value of"
                " deploy/compose.env.example"
            )
        elif len(secret) < MIN_WEBHOOK_SECRET_LENGTH or secret.startswith("whsec_dev_"):
            problems.append(
                f"STRIPE_WEBHOOK_SECRET (secret {position}) is shorter than a Stripe secret"
                f" ({MIN_WEBHOOK_SECRET_LENGTH} characters) or a development one"
            )
    return problems


def refuse_unsafe_service(
    environment: str,
    *,
    stripe_key: str | None,
    stripe_base: str | None,
    auth: AuthSettings | None,
) -> None:
    """For checkout and reservation processes, in production only: the Stripe key and base
    (unless `stripe_key` is None: the process never calls Stripe) and token verification
    (unless `auth` is None: the process verifies no tokens). Relays use neither."""
    livemode = livemode_from_env()
    if not is_production(environment, livemode):
        return
    problems = []
    if stripe_key is not None:
        problems += stripe_problems(stripe_key, stripe_base, livemode=livemode)
    if auth is not None:
        problems += auth_problems(auth)
    _refuse(problems)


def refuse_unsafe_ingest(environment: str, *, livemode: bool, secrets: Iterable[str]) -> None:
    """For webhook-ingest: the signing secrets, in production or on a live-mode endpoint."""
    if not is_production(environment, livemode or livemode_from_env()):
        return
    _refuse(webhook_secret_problems(secrets))


class _StripeAccess(Protocol):
    @property
    def api_key(self) -> SecretStr: ...

    @property
    def api_base(self) -> str | None: ...


class _Guarded(Protocol):
    @property
    def environment(self) -> str: ...

    @property
    def stripe(self) -> _StripeAccess: ...

    @property
    def auth(self) -> AuthSettings: ...


class GuardedSettings:
    """Mixin of a service's settings that has an `environment`, a `stripe` block (api_key,
    api_base) and an `auth` block: checkout and reservation."""

    def refuse_unsafe(self: _Guarded, *, stripe: bool, auth: bool) -> None:
        """In production (or with STRIPE_LIVEMODE=true), refuse the emulator, development tokens
        and the like for what this process uses; UnsafeConfiguration names the variable."""
        refuse_unsafe_service(
            self.environment,
            stripe_key=self.stripe.api_key.get_secret_value() if stripe else None,
            stripe_base=self.stripe.api_base,
            auth=self.auth if auth else None,
        )
