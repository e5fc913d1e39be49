"""The Stripe-Signature check, exactly as Stripe specifies it, against several secrets at once.

Header: `t=<unix seconds>,v1=<hex>[,v1=<hex>...]` (other schemes such as `v0` are ignored). Each
`v1` is hex(HMAC-SHA256(secret, f"{t}.{raw body}")). A signature matching any configured secret
is accepted; every comparison is constant-time. The timestamp must lie within the tolerance of
now, in the past (replays) and in the future alike.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass

# Bounds on what an attacker can make us parse and hash.
MAX_HEADER_BYTES = 4096
MAX_SIGNATURES = 16


class SignatureError(Exception):
    """The request is not provably from Stripe; `reason` is the metric label and log field."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


MISSING = "missing_signature"
MALFORMED = "malformed_signature"
NO_V1 = "no_v1_signature"
MISMATCH = "signature_mismatch"
STALE = "timestamp_too_old"
FUTURE = "timestamp_in_future"


@dataclass(frozen=True)
class ParsedHeader:
    """The timestamp and the v1 signatures of one Stripe-Signature header."""

    timestamp: int
    signatures: tuple[bytes, ...]


def parse_header(header: bytes | None) -> ParsedHeader:
    """Split a Stripe-Signature value; raises SignatureError for a missing or malformed one."""
    if not header:
        raise SignatureError(MISSING, "Stripe-Signature header is missing")
    if len(header) > MAX_HEADER_BYTES:
        raise SignatureError(MALFORMED, "Stripe-Signature header is too long")
    timestamp: int | None = None
    signatures: list[bytes] = []
    for item in header.split(b","):
        name, sep, value = item.strip().partition(b"=")
        if not sep or not name or not value:
            raise SignatureError(MALFORMED, "Stripe-Signature header is malformed")
        if name == b"t":
            if timestamp is not None or not value.isdigit() or len(value) > 12:
                raise SignatureError(MALFORMED, "Stripe-Signature timestamp is malformed")
            timestamp = int(value)
        elif name == b"v1":
            signatures.append(value)
    if timestamp is None:
        raise SignatureError(MALFORMED, "Stripe-Signature header has no timestamp")
    if not signatures:
        raise SignatureError(NO_V1, "Stripe-Signature header has no v1 signature")
    if len(signatures) > MAX_SIGNATURES:
        raise SignatureError(MALFORMED, "Stripe-Signature header has too many signatures")
    return ParsedHeader(timestamp, tuple(signatures))


class SignatureVerifier:
    """Verifies raw bodies against every configured endpoint secret."""

    def __init__(self, secrets: Sequence[bytes], tolerance_s: int = 300) -> None:
        if not secrets:
            raise ValueError("at least one webhook secret is required")
        # A keyed HMAC per secret, copied per request: the key schedule is paid once.
        self._keyed = tuple(hmac.new(s, digestmod=hashlib.sha256) for s in secrets)
        self._tolerance = tolerance_s

    def expected(self, timestamp: int, body: bytes) -> list[bytes]:
        """hex(HMAC-SHA256(secret, f"{t}.{body}")) for each secret."""
        prefix = b"%d." % timestamp
        out = []
        for keyed in self._keyed:
            mac = keyed.copy()
            mac.update(prefix)
            mac.update(body)
            out.append(mac.hexdigest().encode("ascii"))
        return out

    def verify(self, header: bytes | None, body: bytes, now: float | None = None) -> int:
        """Check `header` over `body`; the signed timestamp, or SignatureError with the reason."""
        parsed = parse_header(header)
        matched = False
        for expected in self.expected(parsed.timestamp, body):
            for candidate in parsed.signatures:
                # No short-circuit: every pair is compared, each in constant time.
                matched |= hmac.compare_digest(expected, candidate)
        if not matched:
            raise SignatureError(MISMATCH, "No signature matches the expected signature")
        current = time.time() if now is None else now
        if parsed.timestamp < current - self._tolerance:
            raise SignatureError(STALE, "Timestamp is outside the tolerance (too old)")
        if parsed.timestamp > current + self._tolerance:
            raise SignatureError(FUTURE, "Timestamp is outside the tolerance (in the future)")
        return parsed.timestamp
