"""The development stack: the processes `make run` starts, their ports and their environment."""

from __future__ import annotations

import importlib.util
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

PORTS = {
    "checkout": 8000,
    "webhook-ingest": 8001,
    "reservation-api": 8002,
    "notifier": 8003,
    "stripe-emulator": 12111,
    "smtp": 1025,
    "mail-web": 8025,
    "broker": 9092,
    "reservation-worker-metrics": 8004,
}

# One database per service that keeps state; no service reads another's tables.
DATABASES = ("checkout", "reservation", "notifier")

DEV_STRIPE_API_KEY = "sk_test_devstack_local_emulator"

# The mail sink keeps this many messages (oldest dropped first): a day of local trying at least.
MAIL_SINK_MAX_MESSAGES = 100_000


@dataclass(frozen=True)
class ProcessSpec:
    """One process of the stack: a `python -m` command, the package it needs, and its env."""

    name: str
    module: str
    args: tuple[str, ...]
    env: dict[str, str]
    health: str | None = None  # an http(s) URL that answers 200 once the process serves

    @property
    def available(self) -> bool:
        """Whether the package has its `python -m` entry point yet (services land one by one)."""
        package = self.module.split(".")[0]
        return (
            importlib.util.find_spec(package) is not None
            and importlib.util.find_spec(f"{package}.__main__") is not None
        )

    @property
    def command(self) -> str:
        """The command as one shell line (for a person to read or copy)."""
        return " ".join([sys.executable, "-m", self.module, *self.args])


@dataclass(frozen=True)
class StackConfig:
    """Addresses and secrets every process shares."""

    kafka: str
    databases: dict[str, str]
    webhook_secret: str
    data_dir: Path
    jwks_url: str = ""
    issuer: str = ""
    ports: dict[str, int] = field(default_factory=lambda: dict(PORTS))

    def url(self, part: str, path: str = "") -> str:
        """The local HTTP address of `part`."""
        return f"http://127.0.0.1:{self.ports[part]}{path}"


def webhook_secret(data_dir: Path, from_env: str | None) -> str:
    """STRIPE_WEBHOOK_SECRET when set, else a development secret kept under the data folder."""
    if from_env:
        return from_env
    path = data_dir / "webhook-secret"
    if not path.exists():
        path.write_text("whsec_dev_" + secrets.token_hex(16))
    return path.read_text().strip()


def processes(config: StackConfig) -> list[ProcessSpec]:
    """Every process of the stack, in start order."""
    base = {"KAFKA_BOOTSTRAP_SERVERS": config.kafka, "PYTHONUNBUFFERED": "1"}
    stripe = {
        "STRIPE_API_KEY": DEV_STRIPE_API_KEY,
        "STRIPE_API_BASE": config.url("stripe-emulator"),
    }
    auth = {"AUTH_JWKS_URL": config.jwks_url, "AUTH_ISSUER": config.issuer}
    ingest = config.url("webhook-ingest", "/webhooks/stripe")
    reservation_api = config.url("reservation-api")
    return [
        ProcessSpec(
            "stripe-emulator",
            "stripe_emulator",
            (),
            {
                **base,
                "STRIPE_EMULATOR_PORT": str(config.ports["stripe-emulator"]),
                "STRIPE_WEBHOOK_URL": ingest,
                "STRIPE_WEBHOOK_SECRET": config.webhook_secret,
            },
            config.url("stripe-emulator", "/healthz"),
        ),
        ProcessSpec(
            "mail-sink",
            "mail_sink",
            (),
            {
                **base,
                "MAIL_SINK_SMTP_PORT": str(config.ports["smtp"]),
                "MAIL_SINK_HTTP_PORT": str(config.ports["mail-web"]),
                "MAIL_SINK_MAX_MESSAGES": str(MAIL_SINK_MAX_MESSAGES),
            },
            config.url("mail-web", "/readyz"),
        ),
        ProcessSpec(
            "webhook-ingest",
            "webhook_ingest",
            (),
            {
                **base,
                "STRIPE_WEBHOOK_SECRET": config.webhook_secret,
                "WEBHOOK_INGEST_PORT": str(config.ports["webhook-ingest"]),
            },
            config.url("webhook-ingest", "/healthz"),
        ),
        ProcessSpec(
            "reservation-api",
            "reservation",
            ("api",),
            {
                **base,
                **stripe,
                **auth,
                "DATABASE_URL": config.databases["reservation"],
                "RESERVATION_PORT": str(config.ports["reservation-api"]),
            },
            config.url("reservation-api", "/healthz"),
        ),
        ProcessSpec(
            "reservation-worker",
            "reservation",
            ("worker", "--without-web"),
            {
                **base,
                **stripe,
                "DATABASE_URL": config.databases["reservation"],
                "RESERVATION_DATA_DIR": str(config.data_dir / "faust-reservation"),
                "RESERVATION_WORKER_METRICS_PORT": str(config.ports["reservation-worker-metrics"]),
                "RESERVATION_WORKER_METRICS_HOST": "127.0.0.1",
            },
            config.url("reservation-worker-metrics", "/metrics"),
        ),
        ProcessSpec(
            "reservation-relay",
            "reservation",
            ("relay",),
            {**base, "DATABASE_URL": config.databases["reservation"]},
        ),
        ProcessSpec(
            "checkout",
            "checkout",
            ("api",),
            {
                **base,
                **stripe,
                **auth,
                "DATABASE_URL": config.databases["checkout"],
                "CHECKOUT_PORT": str(config.ports["checkout"]),
                # Stripe sends the browser back here (success and cancel pages of the checkout).
                "CHECKOUT_PUBLIC_URL": config.url("checkout"),
                "RESERVATION_API_URL": reservation_api,
            },
            config.url("checkout", "/healthz"),
        ),
        ProcessSpec(
            "notifier",
            "notifier",
            ("worker", "-l", "info"),
            {
                **base,
                "DATABASE_URL": config.databases["notifier"],
                "NOTIFIER_AUTO_MIGRATE": "true",
                "NOTIFIER_SMTP_HOST": "127.0.0.1",
                "NOTIFIER_SMTP_PORT": str(config.ports["smtp"]),
                "NOTIFIER_HTTP_HOST": "127.0.0.1",
                "NOTIFIER_HTTP_PORT": str(config.ports["notifier"]),
                "NOTIFIER_CHECKOUT_URL": config.url("checkout", "/"),
                "NOTIFIER_DATA_DIR": str(config.data_dir / "faust-notifier"),
                # SMTP outages outlast a few seconds: a longer budget before the dead-letter topic.
                "CONSUMER_MAX_ATTEMPTS": "8",
                "CONSUMER_BACKOFF_MAX_S": "15",
            },
            config.url("notifier", "/healthz"),
        ),
    ]
