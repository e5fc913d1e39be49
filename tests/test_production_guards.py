"""A production process refuses to start with a development or example value, naming it.

Each case starts the real process (`python -m <service> ...`) with a production environment that
is safe but for one value, and reads its exit code and stderr. The refusal comes from settings
validation, before any database or broker is touched, so no infrastructure is needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from unittest import mock

import pytest

from backbone.auth import DEV_ISSUER, dev_jwks_url

# Each case starts a real service process and waits for its refusal: the slow tier.
pytestmark = pytest.mark.slow

STRIPE_SECRET = "whsec_" + "Zq3" * 12
SAFE_AUTH = {
    "AUTH_JWKS_URL": "https://clerk.studio.example/.well-known/jwks.json",
    "AUTH_ISSUER": "https://clerk.studio.example",
    "AUTH_AUDIENCE": "studio",
    "AUTH_AUTHORIZED_PARTIES": "https://studio.example",
}
SAFE_STRIPE = {"STRIPE_API_KEY": "sk_test_51Hx" + "a" * 24}
SAFE: dict[str, dict[str, str]] = {
    "checkout": {"CHECKOUT_ENVIRONMENT": "production", **SAFE_AUTH, **SAFE_STRIPE},
    "reservation": {"RESERVATION_ENVIRONMENT": "production", **SAFE_AUTH, **SAFE_STRIPE},
    "reservation-worker": {"RESERVATION_ENVIRONMENT": "production", **SAFE_STRIPE},
    "webhook_ingest": {
        "WEBHOOK_INGEST_ENVIRONMENT": "production",
        "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
    },
}
COMMANDS = {
    "checkout": ["checkout", "api"],
    "reservation": ["reservation", "api"],
    "reservation-worker": ["reservation", "worker"],
    "webhook_ingest": ["webhook_ingest"],
}
_OURS = ("AUTH_", "STRIPE_", "CHECKOUT_", "RESERVATION_", "WEBHOOK_INGEST_", "DATABASE_")

# (service, the unsafe values, the variable the refusal must name)
CASES = [
    ("reservation-worker", {"STRIPE_API_BASE": "http://127.0.0.1:12111"}, "STRIPE_API_BASE"),
    ("checkout", {"STRIPE_API_BASE": "http://stripe-emulator:12111"}, "STRIPE_API_BASE"),
    ("reservation-worker", {"STRIPE_API_KEY": "sk_test_devstack_local_emulator"}, "STRIPE_API_KEY"),
    ("reservation-worker", {"STRIPE_API_KEY": ""}, "STRIPE_API_KEY"),
    ("checkout", {"STRIPE_API_KEY": "sk_test_replace_me"}, "STRIPE_API_KEY"),
    ("checkout", {"STRIPE_API_KEY": "sk_live_" + "b" * 24}, "STRIPE_API_KEY"),
    ("reservation-worker", {"STRIPE_LIVEMODE": "true"}, "STRIPE_API_KEY"),
    ("reservation", {"AUTH_JWKS_URL": dev_jwks_url()}, "AUTH_JWKS_URL"),
    ("checkout", {"AUTH_ISSUER": DEV_ISSUER}, "AUTH_ISSUER"),
    ("checkout", {"AUTH_AUDIENCE": ""}, "AUTH_AUDIENCE"),
    ("reservation", {"AUTH_AUTHORIZED_PARTIES": ""}, "AUTH_AUTHORIZED_PARTIES"),
    ("webhook_ingest", {"STRIPE_WEBHOOK_SECRET": "whsec_replace_me"}, "STRIPE_WEBHOOK_SECRET"),
    ("webhook_ingest", {"STRIPE_WEBHOOK_SECRET": "whsec_short"}, "STRIPE_WEBHOOK_SECRET"),
    (
        "webhook_ingest",
        {"WEBHOOK_INGEST_ENVIRONMENT": "development", "WEBHOOK_INGEST_LIVEMODE": "true"}
        | {"STRIPE_WEBHOOK_SECRET": "whsec_dev_0123"},
        "STRIPE_WEBHOOK_SECRET",
    ),
]


def _environment(service: str, unsafe: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:9/none"  # never reached
    return {**env, **SAFE[service], **unsafe}


@pytest.mark.parametrize(("service", "unsafe", "variable"), CASES)
def test_production_refuses_an_unsafe_value(
    service: str, unsafe: dict[str, str], variable: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", *COMMANDS[service]],
        env=_environment(service, unsafe),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "unsafe production configuration" in done.stderr, done.stderr[-2000:]
    assert variable in done.stderr, done.stderr[-2000:]


@pytest.fixture
def clean_env() -> Iterator[None]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    with mock.patch.dict(os.environ, kept, clear=True):
        yield


@pytest.mark.usefixtures("clean_env")
def test_a_safe_production_configuration_is_accepted() -> None:
    from checkout.settings import Settings as CheckoutSettings
    from reservation.settings import Settings as ReservationSettings
    from webhook_ingest.settings import IngestSettings

    os.environ.update({**SAFE["checkout"], **SAFE["reservation"], **SAFE["webhook_ingest"]})
    CheckoutSettings().refuse_unsafe(stripe=True, auth=True)
    ReservationSettings().refuse_unsafe(stripe=True, auth=True)
    IngestSettings().refuse_unsafe()


@pytest.mark.usefixtures("clean_env")
def test_relays_use_neither_stripe_nor_tokens_so_need_neither() -> None:
    from reservation.settings import Settings as ReservationSettings

    os.environ["RESERVATION_ENVIRONMENT"] = "production"
    ReservationSettings().refuse_unsafe(stripe=False, auth=False)


@pytest.mark.usefixtures("clean_env")
def test_development_defaults_still_start_and_reservation_defaults_to_stripe() -> None:
    from checkout.settings import Settings as CheckoutSettings
    from reservation.settings import Settings as ReservationSettings

    CheckoutSettings().refuse_unsafe(stripe=True, auth=True)
    assert ReservationSettings().stripe.api_base == "https://api.stripe.com"
