"""Settings of the Stripe emulator, read from the environment."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_PORT = 12111
DEFAULT_WEBHOOK_SECRET = "whsec_stripe_emulator_development_secret"  # noqa: S105 - a dev default
DEFAULT_API_VERSION = "2026-10-28.endive"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class EmulatorSettings(BaseSettings):
    """Everything the emulator can be told; each field names the variable that sets it."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    host: str = Field(
        default="127.0.0.1",
        validation_alias="STRIPE_EMULATOR_HOST",
        description="Interface the HTTP server binds to.",
    )
    port: int = Field(
        default=DEFAULT_PORT,
        validation_alias="STRIPE_EMULATOR_PORT",
        description="Port of the HTTP server (Stripe API, hosted page and control API).",
    )
    public_url: str | None = Field(
        default=None,
        validation_alias="STRIPE_EMULATOR_PUBLIC_URL",
        description="Base URL a browser uses to reach the emulator (session.url); "
        "default http://<host>:<port>.",
    )
    webhook_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="STRIPE_WEBHOOK_URL",
        description="Webhook endpoints, comma-separated; empty means events are only recorded.",
    )
    webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=lambda: [SecretStr(DEFAULT_WEBHOOK_SECRET)],
        validation_alias="STRIPE_WEBHOOK_SECRET",
        description="Signing secrets (whsec_...), comma-separated; the first one signs.",
    )
    webhook_enabled_events: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"],
        validation_alias="STRIPE_WEBHOOK_EVENTS",
        description="Event types sent to the endpoints, comma-separated ('*' or 'prefix.*').",
    )
    webhook_max_attempts: int = Field(
        default=8,
        ge=1,
        validation_alias="STRIPE_EMULATOR_WEBHOOK_MAX_ATTEMPTS",
        description="Delivery attempts per event and endpoint before giving up.",
    )
    webhook_backoff_initial: float = Field(
        default=1.0,
        ge=0,
        validation_alias="STRIPE_EMULATOR_WEBHOOK_BACKOFF_INITIAL",
        description="Seconds before the first retry.",
    )
    webhook_backoff_factor: float = Field(
        default=2.0,
        ge=1,
        validation_alias="STRIPE_EMULATOR_WEBHOOK_BACKOFF_FACTOR",
        description="Multiplier of the delay after each failed attempt.",
    )
    webhook_backoff_max: float = Field(
        default=60.0,
        ge=0,
        validation_alias="STRIPE_EMULATOR_WEBHOOK_BACKOFF_MAX",
        description="Upper bound of the delay between two attempts, in seconds.",
    )
    webhook_timeout: float = Field(
        default=10.0,
        gt=0,
        validation_alias="STRIPE_EMULATOR_WEBHOOK_TIMEOUT",
        description="Seconds to wait for an endpoint's answer.",
    )
    control_allow_remote: bool = Field(
        default=False,
        validation_alias="STRIPE_EMULATOR_CONTROL_ALLOW_REMOTE",
        description="Answer the control API (/_emulator) to clients off this machine too; "
        "by default only loopback clients reach it (others get 404).",
    )
    api_version: str = Field(
        default=DEFAULT_API_VERSION,
        validation_alias="STRIPE_EMULATOR_API_VERSION",
        description="The api_version stamped on events.",
    )
    min_session_lifetime: int = Field(
        default=1800,
        ge=0,
        validation_alias="STRIPE_EMULATOR_MIN_SESSION_LIFETIME",
        description="Smallest allowed expires_at - now, in seconds (Stripe: 30 minutes).",
    )
    default_session_lifetime: int = Field(
        default=86400,
        gt=0,
        validation_alias="STRIPE_EMULATOR_DEFAULT_SESSION_LIFETIME",
        description="Lifetime of a session created without expires_at (Stripe: 24 hours).",
    )
    expiry_sweep_interval: float = Field(
        default=1.0,
        gt=0,
        validation_alias="STRIPE_EMULATOR_EXPIRY_SWEEP_INTERVAL",
        description="How often open sessions past expires_at are expired, in seconds.",
    )

    @field_validator("webhook_urls", "webhook_secrets", "webhook_enabled_events", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_csv(value)

    @property
    def base_url(self) -> str:
        """The URL prefix of links the emulator hands out."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


def get_settings() -> EmulatorSettings:
    """Read the settings from the environment (never at import time)."""
    return EmulatorSettings()
