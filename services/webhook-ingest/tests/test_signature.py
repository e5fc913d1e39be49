"""The signature check on its own: Stripe's format, several secrets, tolerance both ways."""

from __future__ import annotations

import time

import pytest
import stripe

from webhook_ingest import signature as sig
from webhook_ingest.event import InvalidEvent, read_event
from webhook_ingest.signature import SignatureError, SignatureVerifier, parse_header

from .conftest import OLD_SECRET, OTHER_SECRET, SECRET, make_event, sign

VERIFIER = SignatureVerifier([SECRET.encode(), OLD_SECRET.encode()], tolerance_s=300)


def reason(header: bytes | None, body: bytes, now: float | None = None) -> str:
    with pytest.raises(SignatureError) as caught:
        VERIFIER.verify(header, body, now=now)
    return caught.value.reason


def test_stripe_package_signature_verifies_here() -> None:
    body = make_event()
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)
    assert VERIFIER.verify(header.encode(), body) > 0


def test_our_signature_verifies_with_stripe_package() -> None:
    body = make_event()
    header = sign(body)
    assert stripe.WebhookSignature.verify_header(body, header, SECRET, tolerance=300)


def test_either_secret_signs_and_a_third_does_not() -> None:
    body = make_event()
    VERIFIER.verify(sign(body, SECRET).encode(), body)
    VERIFIER.verify(sign(body, OLD_SECRET).encode(), body)
    assert reason(sign(body, OTHER_SECRET).encode(), body) == sig.MISMATCH


def test_any_of_several_v1_and_other_schemes_ignored() -> None:
    body = make_event()
    good = sign(body)
    t, v1 = good.split(",")
    header = f"{t},v0=deadbeef,v1={'0' * 64},{v1}"
    VERIFIER.verify(header.encode(), body)


def test_one_changed_byte_is_a_mismatch() -> None:
    body = make_event()
    header = sign(body).encode()
    tampered = body.replace(b'"livemode": false', b'"livemode": true ')
    assert tampered != body
    assert reason(header, tampered) == sig.MISMATCH


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, sig.MISSING),
        (b"", sig.MISSING),
        (b"garbage", sig.MALFORMED),
        (b"t=abc,v1=00", sig.MALFORMED),
        (b"t=1,t=2,v1=00", sig.MALFORMED),
        (b"v1=00", sig.MALFORMED),
        (b"t=1,v1=", sig.MALFORMED),
        (b"t=" + b"9" * 20 + b",v1=00", sig.MALFORMED),
        (b"t=1," + b"v1=00," * 20 + b"v1=00", sig.MALFORMED),
        (b"t=1700000000", sig.NO_V1),
        (b"t=1700000000,v0=abc", sig.NO_V1),
    ],
)
def test_header_errors(header: bytes | None, expected: str) -> None:
    with pytest.raises(SignatureError) as caught:
        parse_header(header)
    assert caught.value.reason == expected


def test_tolerance_both_ways() -> None:
    body = make_event()
    now = time.time()
    VERIFIER.verify(sign(body, timestamp=int(now) - 299).encode(), body, now=now)
    VERIFIER.verify(sign(body, timestamp=int(now) + 299).encode(), body, now=now)
    assert reason(sign(body, timestamp=int(now) - 301).encode(), body, now) == sig.STALE
    assert reason(sign(body, timestamp=int(now) + 301).encode(), body, now) == sig.FUTURE


def test_a_stale_forgery_is_reported_as_a_mismatch() -> None:
    body = make_event()
    old = int(time.time()) - 10_000
    assert reason(sign(body, OTHER_SECRET, timestamp=old).encode(), body) == sig.MISMATCH


def test_no_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        SignatureVerifier([])


def test_keys_follow_the_contracts_registry() -> None:
    session = read_event(make_event(obj={"id": "cs_test_1", "object": "checkout.session"}))
    assert session.key == "cs_test_1"
    charge = read_event(
        make_event("charge.refunded", {"id": "ch_1", "payment_intent": "pi_1", "object": "charge"})
    )
    assert charge.key == "pi_1"
    other = read_event(make_event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert other.key == "cus_1"
    assert other.livemode is False


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"type": "x", "data": {"object": {}}}',
        b'{"id": "evt_1", "data": {"object": {}}}',
        b'{"id": "evt_1", "type": "x", "data": {}}',
        b'{"id": "evt_1", "type": "x", "data": {"object": "cs_1"}}',
        b'{"id": "", "type": "x", "data": {"object": {}}}',
        b"\xff\xfe\x00",
    ],
)
def test_invalid_events(body: bytes) -> None:
    with pytest.raises(InvalidEvent):
        read_event(body)
