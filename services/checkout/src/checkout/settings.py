"""The checkout service's settings, from the environment (CHECKOUT_*, STRIPE_*, shared ones)."""

from __future__ import annotations

import base64
import re
from typing import Annotated

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from backbone import safety
from backbone.auth import AuthSettings
from backbone.settings import DatabaseSettings, KafkaSettings, LogSettings, StartupSettings
from contracts.stripe import STRIPE_API_VERSION


def _origins(value: object) -> object:
    # CHECKOUT_CORS_ORIGINS is a comma-separated list, the way operators write it; browsers send
    # an Origin without a trailing slash, so one written with it would never match.
    if isinstance(value, str):
        value = value.split(",")
    if isinstance(value, list):
        return [str(part).strip().rstrip("/") for part in value if str(part).strip()]
    return value


class StripeSettings(BaseSettings):
    """How to reach Stripe (the local emulator unless STRIPE_API_BASE says otherwise)."""

    model_config = SettingsConfigDict(env_prefix="STRIPE_", extra="ignore")

    api_key: SecretStr = Field(
        SecretStr("sk_test_devstack_local_emulator"),
        description="Secret key (STRIPE_API_KEY); any sk_test_ key works with the emulator.",
    )
    api_base: str | None = Field(
        None,
        description="API base (STRIPE_API_BASE), e.g. the emulator at http://127.0.0.1:12111; "
        "unset or empty: the real Stripe API.",
    )
    api_version: str = Field(
        STRIPE_API_VERSION,
        min_length=1,
        description="Stripe API version sent as Stripe-Version on every call (STRIPE_API_VERSION):"
        " the shapes we read are pinned here, not by the account's default or the SDK's release.",
    )
    request_timeout_s: float = Field(8.0, gt=0, description="Bound on one Stripe request.")
    max_attempts: int = Field(4, ge=1, description="Attempts per Stripe call, the first included.")
    backoff_initial_s: float = Field(0.25, ge=0, description="Pause after the first failure.")
    backoff_max_s: float = Field(2.0, ge=0, description="Ceiling of the exponential backoff.")
    deadline_s: float = Field(
        20.0, gt=0, description="Bound on one Stripe call, retries and pauses included."
    )


class Settings(StartupSettings, safety.GuardedSettings):
    """Everything the checkout processes read; each nested block has its own env prefix."""

    model_config = SettingsConfigDict(env_prefix="CHECKOUT_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface the API binds to.")
    port: int = Field(8000, description="Port of the API (CHECKOUT_PORT).")
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Where the frontend lives; base of the default success and cancel URLs.",
    )
    success_url: str | None = Field(
        None,
        description="Stripe success URL; must contain {CHECKOUT_SESSION_ID} "
        "(default: <public_url>/checkout/success?session_id={CHECKOUT_SESSION_ID}).",
    )
    cancel_url: str | None = Field(
        None, description="Stripe cancel URL (default: <public_url>/checkout?cancelled=1)."
    )
    cors_origins: Annotated[list[str], NoDecode, BeforeValidator(_origins)] = Field(
        default_factory=list,
        description="Frontend origins admitted by CORS (CHECKOUT_CORS_ORIGINS, comma-separated).",
    )
    reservation_api_url: str = Field(
        "http://127.0.0.1:8002",
        validation_alias=AliasChoices("CHECKOUT_RESERVATION_API_URL", "RESERVATION_API_URL"),
        description="Base URL of the reservation API (RESERVATION_API_URL).",
    )
    reservation_timeout_s: float = Field(5.0, gt=0, description="Bound on one reservation call.")
    min_session_lifetime_s: int = Field(
        31 * 60,
        ge=60,
        description="Shortest session we create: Stripe refuses expires_at under 30 minutes "
        "ahead, plus a minute for clock skew and retries.",
    )
    beats_session_lifetime_s: int = Field(
        3600, ge=60, description="Lifetime of a beats-only session (nothing is held for it)."
    )
    session_status_ttl_s: float = Field(
        5.0,
        ge=0,
        description="How long Stripe's answer on an open session's status is reused when the "
        "success page polls it (one Stripe call per session per period, not one per poll).",
    )
    supersede_sweep_s: float = Field(
        30.0,
        gt=0,
        description="How often the API retries expiring superseded sessions at Stripe (those "
        "whose expiry failed right after the newer session was recorded, e.g. Stripe down).",
    )
    supersede_fact_wait_s: float = Field(
        10.0,
        ge=0,
        description="How long the expiry of a superseded session waits for the newer session's "
        "CheckoutSessionCreatedV1 to be published (so the reservation worker knows it first).",
    )
    relay_in_api: bool | None = Field(
        None,
        description="Also run the outbox relay inside the API process (default: in development, "
        "so `make run` needs no separate relay; an advisory lock keeps one relay active).",
    )
    relay_source: str = Field(
        "checkout",
        min_length=1,
        description="Names this outbox in the outbox-id header (<source>/<row id>@<created at>):"
        " the relay takes an id found on the topic as already published; the creation time"
        " keeps a recreated database's restarted ids apart.",
    )
    workers: int = Field(1, ge=1, description="uvicorn worker processes of the API.")
    clerk_publishable_key: str | None = Field(
        None,
        description="Clerk's publishable key (CHECKOUT_CLERK_PUBLISHABLE_KEY): the payment page "
        "signs users in with Clerk's frontend SDK instead of a pasted development token.",
    )
    clerk_js_version: str = Field("5", description="Major version of Clerk's browser bundle.")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    stripe: StripeSettings = Field(default_factory=StripeSettings)

    @property
    def should_relay_in_api(self) -> bool:
        """Whether the API process runs an outbox relay beside the HTTP server."""
        return self.in_development_unless(self.relay_in_api)

    @property
    def dev_sign_in(self) -> bool:
        """Whether the page offers to paste a development token (never in production)."""
        return self.environment == "development" and not self.clerk_publishable_key

    @property
    def clerk_frontend_api(self) -> str | None:
        """Clerk's frontend API host, encoded in the publishable key (pk_<env>_<base64 host$>)."""
        key = self.clerk_publishable_key
        if not key:
            return None
        encoded = key.split("_", 2)[-1]
        try:
            host = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        host = host.rstrip("$")
        # Only a bare host name may go into the page's script URL and CSP.
        return host if re.fullmatch(r"[A-Za-z0-9.-]+(:[0-9]+)?", host) else None

    @property
    def stripe_success_url(self) -> str:
        """The success URL handed to Stripe."""
        base = self.public_url.rstrip("/")
        return self.success_url or f"{base}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}"

    @property
    def stripe_cancel_url(self) -> str:
        """The cancel URL handed to Stripe."""
        return self.cancel_url or f"{self.public_url.rstrip('/')}/checkout?cancelled=1"


def get_settings() -> Settings:
    """Read the settings now (never at import, so tests and CLIs can set the environment first)."""
    return Settings()
