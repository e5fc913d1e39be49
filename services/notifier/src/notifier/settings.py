"""The notifier's settings, from the environment (NOTIFIER_*, plus the shared KAFKA_*, DATABASE_*,
CONSUMER_* and LOG_* blocks): SMTP, addresses, links, HTTP port, and which stream it reads."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from backbone.settings import DatabaseSettings, KafkaSettings, LogSettings, RetrySettings
from contracts.topics import NOTIFIER_GROUP, RESERVATION_EVENTS, retry_topic

SmtpSecurity = Literal["none", "starttls", "tls"]


class Settings(BaseSettings):
    """Everything the notifier processes read; each nested block has its own env prefix."""

    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore")

    consumer_group: str = Field(
        NOTIFIER_GROUP,
        description="Consumer group (and Faust app id); its retry and DLQ topics follow from it.",
    )
    source_topic: str = Field(
        RESERVATION_EVENTS, description="The facts topic; tests point it at a topic of their own."
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP server host.")
    smtp_port: int = Field(1025, description="SMTP server port (587 STARTTLS, 465 TLS usually).")
    smtp_security: SmtpSecurity = Field(
        "none", description="none, starttls (upgrade after EHLO) or tls (implicit TLS)."
    )
    smtp_username: str | None = Field(None, description="SMTP AUTH user, when the server wants it.")
    smtp_password: SecretStr | None = Field(None, description="SMTP AUTH password.")
    smtp_validate_certs: bool = Field(True, description="Verify the server certificate over TLS.")
    smtp_timeout_s: float = Field(10.0, gt=0, description="Bound on each SMTP command.")
    smtp_send_timeout_s: float = Field(
        30.0, gt=0, description="Bound on one whole send: connect, TLS, auth, envelope and data."
    )
    smtp_connections: int = Field(
        6,
        ge=1,
        description="SMTP conversations held open at once (NOTIFIER_SMTP_CONNECTIONS): a batch's"
        " e-mails are spread over them, those about one reservation, order or dispute one after"
        " the other in order. The crash resend bound stays NOTIFIER_SETTLE_EVERY in all.",
    )
    mail_from: str = Field(
        "Studio <no-reply@studio.example>", description="From header and envelope sender."
    )
    operator_email: str = Field(
        "operator@studio.example",
        description="Where operator e-mails go (NOTIFIER_OPERATOR_EMAIL): reservations flagged"
        " for review, payment disputes opened and closed.",
    )
    checkout_url: str = Field(
        "http://127.0.0.1:8000/", description="Link back to checkout when a fact carries none."
    )
    message_id_domain: str = Field(
        "notifier.payment-backbone",
        description="Right-hand side of Message-IDs: <event_id@domain>, stable across re-sends.",
    )
    batch_max_size: int = Field(
        200, ge=1, description="Most facts handled as one batch (one claim for all of them)."
    )
    settle_every: int = Field(
        10,
        ge=1,
        description="Sends marked sent per transaction (NOTIFIER_SETTLE_EVERY): a worker killed"
        " mid-batch sends at most this many accepted e-mails once more (same Message-ID), however"
        " many NOTIFIER_SMTP_CONNECTIONS: no send starts while this many are unmarked.",
    )
    http_host: str = Field(
        "127.0.0.1",
        description="Bind address of /healthz and /metrics (0.0.0.0 in a container).",
    )
    http_port: int = Field(8003, description="Port of /healthz, /readyz and /metrics.")
    auto_migrate: bool = Field(
        False, description="Apply the Alembic migrations when the worker starts (development)."
    )
    data_dir: Path = Field(
        Path(".data/notifier"), description="Faust's data directory (no tables are kept there)."
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @property
    def topics(self) -> list[str]:
        """What the agent reads: the facts topic and the group's own retry topic."""
        return [self.source_topic, retry_topic(self.consumer_group)]


def get_settings() -> Settings:
    """Read the settings now (never at import, so tests and CLIs can set the environment first)."""
    return Settings()
