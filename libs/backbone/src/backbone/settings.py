"""Settings shared by every service: the broker, the database, logging and consumer retries."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """How to reach the broker and how patient to be with it."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = Field("127.0.0.1:9092", description="Comma-separated host:port list.")
    client_id: str = Field("payment-backbone", description="Client id prefix sent to the broker.")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = Field(None, description="PLAIN or SCRAM-SHA-512 when SASL is on.")
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    request_timeout_ms: int = Field(10_000, description="Bound on one broker request.")
    send_timeout_s: float = Field(
        5.0, description="Bound on one produce, acknowledgement included."
    )
    connect_timeout_s: float = Field(5.0, description="Bound on connecting a client at start-up.")
    session_timeout_ms: int = Field(
        6_000, description="Consumer group session timeout; joins take half of it on Tansu."
    )
    heartbeat_interval_ms: int = Field(1_500, description="Consumer heartbeat interval.")
    max_poll_records: int = Field(200, description="Upper bound of one fetch handed to a handler.")
    fetch_max_wait_ms: int = Field(
        100,
        ge=1,
        description=(
            "Longest a fetch waits at the broker for records. Apache Kafka answers as soon as any"
            " arrive; the embedded broker (Tansu) often waits the whole time, so this bounds the"
            " delivery delay there (Faust's own 1,500 ms gave a 420 ms median)."
        ),
    )
    idle_fetch_max_wait_ms: int = Field(
        500,
        ge=1,
        description=(
            "The fetch wait of a consumer (Faust worker) that has had no records for"
            " idle_fetch_after_ms, never shorter than fetch_max_wait_ms; the first fetch that"
            " brings records sets fetch_max_wait_ms back. Costs nothing on Apache Kafka; on the"
            " embedded broker the first record after a quiet spell may wait up to this at each"
            " consumer."
        ),
    )
    idle_fetch_after_ms: int = Field(
        2_000, ge=0, description="Time without records after which a consumer counts as idle."
    )
    enable_idempotence: bool = Field(
        False, description="Idempotent producer; Apache Kafka supports it, the embedded broker not."
    )
    linger_ms: int = Field(2, description="Producer batching delay.")
    max_batch_size: int = Field(
        16_384,
        description=(
            "Producer batch size per partition, in bytes (aiokafka's default). One produce"
            " request per broker is in flight, so this caps throughput under concurrent sends."
        ),
    )

    def client_options(self) -> dict[str, object]:
        """Options every aiokafka client takes: address, security."""
        options: dict[str, object] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
            "request_timeout_ms": self.request_timeout_ms,
        }
        if self.sasl_mechanism:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return options


class DatabaseSettings(BaseSettings):
    """The service's own PostgreSQL database."""

    model_config = SettingsConfigDict(env_prefix="DATABASE_", extra="ignore")

    url: SecretStr = Field(
        SecretStr("postgresql://postgres@127.0.0.1:5432/postgres"),
        description="libpq URL of this service's database (DATABASE_URL).",
    )
    pool_size: int = Field(10, description="Connections kept open in the pool.")
    max_overflow: int = Field(10, description="Connections allowed beyond the pool under load.")
    pool_timeout_s: float = Field(10.0, description="Wait for a free connection before failing.")
    statement_timeout_ms: int = Field(15_000, description="Bound on any one statement.")


class RetrySettings(BaseSettings):
    """How a consumer retries a failing message before it dead-letters it, and how it waits out
    an outage of a dependency (backbone.kafka.classify), which it never dead-letters."""

    model_config = SettingsConfigDict(env_prefix="CONSUMER_", extra="ignore")

    max_attempts: int = Field(5, ge=1, description="Attempts, the first included, before the DLQ.")
    backoff_initial_s: float = Field(0.2, ge=0, description="Delay after the first failure.")
    backoff_max_s: float = Field(5.0, ge=0, description="Ceiling of the exponential backoff.")
    backoff_multiplier: float = Field(2.0, ge=1, description="Growth of the delay per attempt.")
    transient_backoff_initial_s: float = Field(
        0.5, gt=0, description="Delay after the first try that met an outage (doubles per try)."
    )
    transient_backoff_max_s: float = Field(
        10.0,
        gt=0,
        description=(
            "Ceiling of the delay between tries during an outage (each drawn between half and"
            " all of it): the longest a consumer may lag behind a dependency that came back."
        ),
    )


class RelaySettings(BaseSettings):
    """An outbox relay running as its own process."""

    model_config = SettingsConfigDict(env_prefix="RELAY_", extra="ignore")

    metrics_port: int | None = Field(
        None, description="Port of /metrics, /healthz and /readyz (unset: none; 0: any free)."
    )
    metrics_host: str = Field("0.0.0.0", description="Address /metrics listens on.")  # noqa: S104


class LogSettings(BaseSettings):
    """Log level and format."""

    model_config = SettingsConfigDict(env_prefix="LOG_", extra="ignore")

    level: str = Field("INFO", description="Minimum level logged.")
    format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: pretty on a terminal, JSON otherwise."
    )


class StartupSettings(BaseSettings):
    """What a service does for itself at start-up; a service's settings class extends it, so
    the fields take that class's env prefix (CHECKOUT_ENVIRONMENT, RESERVATION_SEED_CATALOG...).

    In development (the default) processes migrate their schema and seed their catalog on their
    own; in production both are explicit, one-shot steps unless switched on.
    """

    environment: Literal["development", "production"] = Field(
        "development", description="development: migrations and the catalog seed run at start-up."
    )
    migrate_on_start: bool | None = Field(
        None, description="Apply migrations at start-up (default: in development only)."
    )
    seed_catalog: bool | None = Field(
        None, description="Seed the development catalog (default: in development only)."
    )

    def in_development_unless(self, explicit: bool | None) -> bool:
        """An explicit switch, or else whether this is a development process."""
        return self.environment == "development" if explicit is None else explicit

    @property
    def should_migrate(self) -> bool:
        """Whether start-up applies migrations."""
        return self.in_development_unless(self.migrate_on_start)

    @property
    def should_seed(self) -> bool:
        """Whether start-up (or the migrate command) seeds the catalog."""
        return self.in_development_unless(self.seed_catalog)
