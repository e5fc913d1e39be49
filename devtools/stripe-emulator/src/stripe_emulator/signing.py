"""Webhook signatures exactly as Stripe makes them (the Stripe-Signature header)."""

from __future__ import annotations

import hashlib
import hmac

from stripe_emulator.ids import now


def compute_signature(payload: str, secret: str, timestamp: int) -> str:
    """hex(HMAC-SHA256(secret, f"{timestamp}.{payload}"))."""
    signed = f"{timestamp}.{payload}".encode()
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature value: t=<unix time>,v1=<signature>."""
    t = now() if timestamp is None else timestamp
    return f"t={t},v1={compute_signature(payload, secret, t)}"
