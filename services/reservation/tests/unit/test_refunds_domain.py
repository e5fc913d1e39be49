"""Refund rules without I/O: forward-only statuses, full or partial, pacing, Stripe's errors."""

from __future__ import annotations

import pytest
import stripe

from reservation.adapters.stripe_gateway import is_retryable
from reservation.domain.refunds import (
    COUNTED,
    RefundStatus,
    moves,
    refund_key,
    retry_delay,
    share,
    stripe_status,
)


def test_a_refund_only_moves_forward() -> None:
    assert moves(RefundStatus.REQUESTED, RefundStatus.PENDING)
    assert moves(RefundStatus.PENDING, RefundStatus.SUCCEEDED)
    assert moves(RefundStatus.PENDING, RefundStatus.FAILED)
    assert not moves(RefundStatus.SUCCEEDED, RefundStatus.PENDING)
    assert not moves(RefundStatus.SUCCEEDED, RefundStatus.SUCCEEDED)
    assert not moves(RefundStatus.REFUSED, RefundStatus.SUCCEEDED)


def test_stripe_statuses() -> None:
    assert stripe_status("succeeded") is RefundStatus.SUCCEEDED
    assert stripe_status(None) is RefundStatus.PENDING
    assert stripe_status("something_new") is RefundStatus.PENDING
    assert stripe_status("requested") is RefundStatus.PENDING  # never ours to claim
    assert RefundStatus.FAILED not in COUNTED


def test_full_once_the_refunds_reach_what_was_paid() -> None:
    assert share(3000, 0, 15000).full is False
    assert share(12000, 3000, 15000) == share(12000, 3000, 15000)
    assert share(12000, 3000, 15000).full is True
    assert share(12000, 3000, 15000).refunded_total == 15000


def test_retry_delay_is_capped_and_jittered() -> None:
    delays = [retry_delay(n, 1.0, 60.0) for n in range(1, 20)]
    assert all(0 < d <= 60.0 for d in delays)
    assert 0.5 <= retry_delay(1, 1.0, 60.0) <= 1.0
    assert retry_delay(30, 1.0, 60.0) >= 30.0


def test_the_idempotency_key_is_stable() -> None:
    assert refund_key("r1", "cs_1") == refund_key("r1", "cs_1") == "reservation-refund:r1:cs_1"


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (stripe.APIError("down", http_status=503), True),
        (stripe.RateLimitError("slow down", http_status=429), True),
        (stripe.APIConnectionError("timed out"), True),
        (stripe.AuthenticationError("bad key", http_status=401), True),
        (
            stripe.InvalidRequestError(
                "in use", None, code="idempotency_key_in_use", http_status=409
            ),
            True,
        ),
        (
            stripe.InvalidRequestError(
                "already refunded", "charge", code="charge_already_refunded", http_status=400
            ),
            False,
        ),
        (
            stripe.InvalidRequestError(
                "disputed", "charge", code="charge_disputed", http_status=400
            ),
            False,
        ),
    ],
)
def test_stripe_errors_wait_or_refuse(error: stripe.StripeError, retryable: bool) -> None:
    assert is_retryable(error) is retryable
