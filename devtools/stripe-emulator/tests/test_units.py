"""Pieces without a server: form decoding, signatures, settings, and shapes against Stripe's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import stripe

from stripe_emulator import disputes, objects, payment_objects
from stripe_emulator.params import decode_pairs
from stripe_emulator.settings import EmulatorSettings
from stripe_emulator.signing import signature_header

# Stripe's own example objects (openapi repository, MIT: see LICENSE and SOURCE_COMMIT beside it).
FIXTURES = Path(__file__).resolve().parent / "stripe_fixtures" / "fixtures3.json"


def test_decode_nested_form_keys() -> None:
    params = decode_pairs(
        [
            ("line_items[0][price_data][unit_amount]", "500"),
            ("line_items[0][quantity]", "1"),
            ("line_items[1][quantity]", "2"),
            ("metadata[type]", "beats_only"),
            ("expand[]", "payment_intent"),
            ("created[gte]", "10"),
        ]
    )
    assert params == {
        "line_items": [{"price_data": {"unit_amount": "500"}, "quantity": "1"}, {"quantity": "2"}],
        "metadata": {"type": "beats_only"},
        "expand": ["payment_intent"],
        "created": {"gte": "10"},
    }


def test_signature_verifies_with_the_stripe_package() -> None:
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "x"})
    header = signature_header(payload, "whsec_abc")
    stripe.WebhookSignature.verify_header(payload, header, "whsec_abc", tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, header, "whsec_other", tolerance=300)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_EMULATOR_PORT", "12999")
    monkeypatch.setenv("STRIPE_WEBHOOK_URL", "http://a/hook, http://b/hook")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_one,whsec_two")
    settings = EmulatorSettings()
    assert settings.port == 12999
    assert settings.base_url == "http://127.0.0.1:12999"
    assert settings.webhook_urls == ["http://a/hook", "http://b/hook"]
    assert [s.get_secret_value() for s in settings.webhook_secrets] == ["whsec_one", "whsec_two"]


def _ours() -> dict[str, dict[str, object]]:
    price = objects.price("usd", 1000, "Beat", 1)
    session = objects.checkout_session(
        session_id="cs_test_a1x",
        url="u",
        currency="usd",
        amount=1000,
        expires_at=2,
        fields={"_payment_intent_data": {}},
    )
    intent = payment_objects.payment_intent(session, {})
    charge = payment_objects.charge(intent, method="card", status="succeeded", email=None)
    return {
        "checkout.session": session,
        "payment_intent": intent,
        "charge": charge,
        "refund": payment_objects.refund(charge, 100, None, {}),
        "dispute": disputes.dispute_object(charge, 100, "fraudulent"),
        "event": objects.event(
            "x", {}, api_version="v", request_id=None, idempotency_key=None, pending_webhooks=0
        ),
        "item": objects.line_item(price, 1),
    }


def test_objects_have_every_field_of_stripes_fixtures() -> None:
    resources = json.loads(FIXTURES.read_text())["resources"]
    for name, ours in _ours().items():
        missing = set(resources[name]) - set(ours)
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert ours["object"] == resources[name]["object"]
