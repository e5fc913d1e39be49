"""Stripe-like object ids and the emulator's clock."""

from __future__ import annotations

import secrets
import string
import time

_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int) -> str:
    """Random base62 text, the alphabet Stripe ids use."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    """A fresh id such as pi_3PgafyB7WZ01zgkW0SjxsAJo."""
    return f"{prefix}_{random_token(length)}"


def new_session_id() -> str:
    """A test-mode Checkout Session id (cs_test_a1...), as long as Stripe's."""
    return f"cs_test_a1{random_token(56)}"


def now() -> int:
    """Unix time in whole seconds, the unit of every Stripe timestamp."""
    return int(time.time())
