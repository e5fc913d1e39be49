"""Settings of webhook-ingest, read from the environment."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from backbone import safety
from contracts.stripe import STRIPE_API_VERSION
from contracts.topics import STRIPE_EVENTS

DEFAULT_PORT = 8001
MIB = 1024 * 1024


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class IngestSettings(BaseSettings):
    """Everything webhook-ingest can be told; each field names the variable that sets it."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    environment: Literal["development", "production"] = Field(
        default="development",
        validation_alias="WEBHOOK_INGEST_ENVIRONMENT",
        description="production: example or short signing secrets are refused at start-up.",
    )
    host: str = Field(
        default="127.0.0.1",
        validation_alias="WEBHOOK_INGEST_HOST",
        description="Interface the HTTP server binds to (0.0.0.0 in a container).",
    )
    port: int = Field(
        default=DEFAULT_PORT, validation_alias="WEBHOOK_INGEST_PORT", description="HTTP port."
    )
    workers: int = Field(
        default=1,
        ge=1,
        validation_alias="WEBHOOK_INGEST_WORKERS",
        description="uvicorn worker processes (metrics are per process when above 1).",
    )
    webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        min_length=1,
        validation_alias="STRIPE_WEBHOOK_SECRET",
        description=(
            "Endpoint signing secrets (whsec_...), comma-separated: during a secret roll both the"
            " new and the old one are listed, and a signature by either is accepted."
        ),
    )
    tolerance_s: int = Field(
        default=300,
        ge=1,
        validation_alias="WEBHOOK_INGEST_TOLERANCE_S",
        description="Largest accepted distance between the signed timestamp and now, either way.",
    )
    max_body_bytes: int = Field(
        default=MIB,
        ge=1,
        validation_alias="WEBHOOK_INGEST_MAX_BODY_BYTES",
        description="Bodies larger than this are refused before they are read in full.",
    )
    livemode: bool = Field(
        default=False,
        validation_alias="WEBHOOK_INGEST_LIVEMODE",
        description="True on a live-mode endpoint; events of the other mode are rejected.",
    )
    topic: str = Field(
        default=STRIPE_EVENTS,
        validation_alias="WEBHOOK_INGEST_TOPIC",
        description="Where verified events are produced.",
    )
    publish_timeout_s: float = Field(
        default=5.0,
        gt=0,
        validation_alias="WEBHOOK_INGEST_PUBLISH_TIMEOUT_S",
        description="Bound on one publish, acknowledgement included; past it the answer is 503.",
    )
    max_in_flight: int = Field(
        default=512,
        ge=1,
        validation_alias="WEBHOOK_INGEST_MAX_IN_FLIGHT",
        description=(
            "Publishes awaiting the broker at once. A request arriving while they are this many"
            " is shed: answered 503 with Retry-After at once, unread and unpublished (Stripe"
            " retries it)."
        ),
    )
    shed_retry_after_s: int = Field(
        default=1,
        ge=0,
        validation_alias="WEBHOOK_INGEST_SHED_RETRY_AFTER_S",
        description="Retry-After sent with a 503 of a shed request (overload).",
    )
    publish_linger_ms: float = Field(
        default=10.0,
        ge=0,
        le=100,
        validation_alias="WEBHOOK_INGEST_PUBLISH_LINGER_MS",
        description=(
            "How long the first verified webhook waits for others before their records go to the"
            " producer together, cut short at the end of the turn once 16 wait (0: at the end of"
            " every turn). Fewer produce requests at a few hundred webhooks a second, for up to"
            " this much on an answer."
        ),
    )
    producer_batch_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        validation_alias="WEBHOOK_INGEST_PRODUCER_BATCH_BYTES",
        description=(
            "Producer batch size per partition. One produce request per broker is in flight at a"
            " time, so under thousands of concurrent webhooks aiokafka's 16 KiB default caps"
            " throughput."
        ),
    )
    retry_after_s: int = Field(
        default=5,
        ge=0,
        validation_alias="WEBHOOK_INGEST_RETRY_AFTER_S",
        description="Retry-After sent with a 503.",
    )
    ready_timeout_s: float = Field(
        default=2.0,
        gt=0,
        validation_alias="WEBHOOK_INGEST_READY_TIMEOUT_S",
        description="Bound on the broker probe behind /readyz.",
    )

    api_versions: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [STRIPE_API_VERSION],
        validation_alias="WEBHOOK_INGEST_API_VERSIONS",
        description=(
            "Stripe API versions the consumers understand, comma-separated. An event of another"
            " version is still published (rejecting it would only make Stripe retry it for days)"
            " but counted in webhook_ingest_api_version_mismatch_total and logged."
        ),
    )

    @field_validator("api_versions", mode="before")
    @classmethod
    def _versions_csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    def refuse_unsafe(self) -> None:
        """A production or live-mode endpoint never verifies with an example or short secret."""
        safety.refuse_unsafe_ingest(
            self.environment,
            livemode=self.livemode,
            secrets=[s.get_secret_value() for s in self.webhook_secrets],
        )

    def secrets(self) -> list[bytes]:
        """The secrets as bytes, in the order configured."""
        return [s.get_secret_value().encode("utf-8") for s in self.webhook_secrets]
