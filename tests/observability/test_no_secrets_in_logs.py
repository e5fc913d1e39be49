"""The logs of an end-to-end run hold no secret, no signature and no card-related payload."""

from __future__ import annotations

import re

import pytest

from devstack.stack import DEV_STRIPE_API_KEY

from .support import SERVICES, PaymentRun

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# A Stripe-Signature header value (t=...,v1=<64 hex>) or any bare v1 HMAC.
SIGNATURE = re.compile(r"t=\d{9,},v1=|v1=[0-9a-f]{64}")
# What only a full Stripe object or card payload would put on a line.
CARD_PAYLOAD = re.compile(
    r'"(payment_method_details|card_present|exp_month|exp_year|cvc_check|fingerprint|last4)"'
    r'|\\"(payment_method_details|exp_month|last4)\\"'
    r"|\b4242 ?4242 ?4242 ?4242\b"
)
RAW_EVENT = re.compile(r'"object":\s*"event"|\\"object\\":\s*\\"event\\"')


def _secrets(run: PaymentRun) -> dict[str, str]:
    stack = run.stack
    key_pem = stack.auth.key_path.read_text()
    key_body = "".join(line for line in key_pem.splitlines() if "-----" not in line)
    secrets = {
        "webhook secret": stack.config.webhook_secret,
        "Stripe API key": DEV_STRIPE_API_KEY,
        "the user's dev token": run.user_token,
        "the token's signature": run.user_token.rsplit(".", 1)[-1],
        "the signing key": key_body[:64],
    }
    # A secret in a URL (a database password) must not show either.
    for url in stack.config.databases.values():
        password = re.match(r"^[a-z+]+://[^:/@]+:([^@]+)@", url)
        if password:
            secrets["a database password"] = password.group(1)
    return secrets


def test_the_run_has_logs_to_scan(paid_payment: PaymentRun) -> None:
    logs = paid_payment.raw_logs()
    for process in SERVICES:
        assert logs.get(process), f"no output from {process}"


def test_no_configured_secret_in_any_log(paid_payment: PaymentRun) -> None:
    logs = paid_payment.raw_logs()
    found = [
        f"{name} in the log of {process}"
        for process, text in logs.items()
        for name, secret in _secrets(paid_payment).items()
        if secret and secret in text
    ]
    assert not found, found


def test_no_signature_card_payload_or_raw_event_in_service_logs(paid_payment: PaymentRun) -> None:
    logs = paid_payment.raw_logs()
    found = []
    for process in SERVICES:
        for number, line in enumerate(logs.get(process, "").splitlines(), 1):
            for what, pattern in (
                ("a Stripe-Signature value", SIGNATURE),
                ("a card-related payload", CARD_PAYLOAD),
                ("a raw Stripe event", RAW_EVENT),
            ):
                if pattern.search(line):
                    found.append(f"{what} in {process} line {number}: {line[:300]}")
    assert not found, "\n".join(found)
