"""The reservation service's settings, from the environment (RESERVATION_*, plus shared ones)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from backbone import safety
from backbone.auth import AuthSettings
from backbone.settings import (
    DatabaseSettings,
    KafkaSettings,
    LogSettings,
    RetrySettings,
    StartupSettings,
)
from contracts.stripe import STRIPE_API_VERSION
from contracts.topics import RESERVATION_GROUP


class StripeSettings(BaseSettings):
    """How to reach Stripe (the development stack points STRIPE_API_BASE at the emulator)."""

    model_config = SettingsConfigDict(env_prefix="STRIPE_", extra="ignore")

    api_key: SecretStr = Field(
        SecretStr("sk_test_devstack_local_emulator"),
        description="Secret key (STRIPE_API_KEY); any sk_test_ key works with the emulator.",
    )
    api_base: str = Field(
        safety.STRIPE_API,
        description="API base (STRIPE_API_BASE): Stripe, or the emulator in development "
        "(http://127.0.0.1:12111, set by the development stack).",
    )
    max_network_retries: int = Field(
        1,
        ge=0,
        description=(
            "stripe-python's own retries of one call (STRIPE_MAX_NETWORK_RETRIES); the refund"
            " executor retries beyond them with backoff for as long as Stripe is down."
        ),
    )
    request_timeout_s: float = Field(
        10.0, gt=0, description="Bound on one Stripe request (STRIPE_REQUEST_TIMEOUT_S)."
    )
    api_version: str = Field(
        STRIPE_API_VERSION,
        min_length=1,
        description="Stripe API version sent as Stripe-Version on every call (STRIPE_API_VERSION):"
        " the shapes the worker and reconcile read are pinned here, as checkout's are.",
    )


class Settings(StartupSettings, safety.GuardedSettings):
    """Everything the reservation processes read; each nested block has its own env prefix."""

    model_config = SettingsConfigDict(env_prefix="RESERVATION_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface the API binds to.")
    port: int = Field(8002, description="Port of the API (RESERVATION_PORT).")
    hold_minutes: int = Field(
        30,
        ge=1,
        description=(
            "How long an unpaid reservation holds its slot (RESERVATION_HOLD_MINUTES). While a"
            " Stripe page is open the slot stays held until that session's expires_at (at least"
            " Stripe's 30 minutes, at most 24 h; checkout sets it) plus at most"
            " RESERVATION_OVERDUE_GRACE_S, and the API's hold_expires_at says so."
        ),
    )
    sweep_interval_s: float = Field(15.0, gt=0, description="How often expired holds are swept.")
    checkout_fact_grace_s: float = Field(
        600.0,
        gt=0,
        description="How long a paid session may wait for checkout's fact before it is taken as "
        "one checkout never created and flagged for review (RESERVATION_CHECKOUT_FACT_GRACE_S).",
    )
    booking_horizon_days: int = Field(
        365, ge=1, description="How far ahead a slot may start (RESERVATION_BOOKING_HORIZON_DAYS)."
    )
    slot_grid_minutes: int = Field(
        15, ge=1, le=60, description="Slot starts fall on this grid of minutes past the hour."
    )
    max_live_holds: int = Field(
        5, ge=1, description="Unpaid holds one user may keep at once; one more is a 429."
    )
    max_bookings_per_window: int = Field(
        20, ge=1, description="Bookings one user may make per window; one more is a 429."
    )
    booking_window_s: int = Field(3600, ge=1, description="The window of that booking rate.")
    batch_max_size: int = Field(
        200,
        ge=1,
        description=(
            "Most events the worker applies in one transaction (RESERVATION_BATCH_MAX_SIZE);"
            " 1 handles each alone."
        ),
    )
    consumer_group: str = Field(RESERVATION_GROUP, description="The worker's consumer group.")
    data_dir: Path = Field(
        Path(".data/faust-reservation"), description="Faust's local directory for the worker."
    )
    refund_interval_s: float = Field(
        1.0,
        gt=0,
        description=(
            "How often the worker's refund executor looks for refunds to carry out"
            " (RESERVATION_REFUND_INTERVAL_S)."
        ),
    )
    refund_backoff_max_s: float = Field(
        60.0,
        gt=0,
        description=(
            "Longest pause between two attempts of a refund while Stripe is unavailable"
            " (RESERVATION_REFUND_BACKOFF_MAX_S)."
        ),
    )
    reconcile_wait_s: float = Field(
        30.0, ge=0, description="How long reconcile waits for republished events to be applied."
    )
    overdue_grace_s: float = Field(
        600.0,
        ge=0,
        description=(
            "How long after a Checkout Session's expires_at the worker waits for Stripe's event"
            " before it looks the session up at Stripe (RESERVATION_OVERDUE_GRACE_S)."
        ),
    )
    overdue_interval_s: float = Field(
        60.0, gt=0, description="How often the worker looks for overdue sessions."
    )
    reconcile_interval_s: float = Field(
        900.0,
        gt=0,
        description=(
            "How often the worker reconciles with Stripe (RESERVATION_RECONCILE_INTERVAL_S);"
            " one worker at a time (a PostgreSQL advisory lock)."
        ),
    )
    reconcile_window_s: int = Field(
        6 * 3600,
        gt=0,
        le=30 * 86400,
        description="How far back each scheduled reconciliation looks (Stripe keeps 30 days).",
    )
    worker_metrics_port: int | None = Field(
        None,
        ge=0,
        description=(
            "Port of the worker's GET /metrics (RESERVATION_WORKER_METRICS_PORT); unset: none."
        ),
    )
    worker_metrics_host: str = Field(
        "0.0.0.0",  # noqa: S104 - Prometheus scrapes the worker from another container
        description="Bind address of the worker's /metrics (RESERVATION_WORKER_METRICS_HOST).",
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    log: LogSettings = Field(default_factory=LogSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    stripe: StripeSettings = Field(default_factory=StripeSettings)
    workers: int = Field(
        1,
        ge=1,
        validation_alias=AliasChoices("RESERVATION_API_WORKERS"),
        description="uvicorn worker processes of the API.",
    )


def get_settings() -> Settings:
    """Read the settings now (never at import, so tests and CLIs can set the environment first)."""
    return Settings()
