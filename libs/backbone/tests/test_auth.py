"""backbone.auth against real RS256 tokens and a JWKS read through a file:// URL."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest

from backbone.auth import (
    AuthError,
    AuthSettings,
    JwtVerifier,
    Principal,
    TypedEmailRefused,
    bearer_token,
    confirmation_email,
)
from devstack.devauth import DevAuth


@pytest.fixture
def dev(tmp_path: Path) -> DevAuth:
    return DevAuth(tmp_path / "keys", issuer="https://issuer.test").ensure()


def _verifier(dev: DevAuth, **overrides: object) -> JwtVerifier:
    options: dict[str, object] = {"leeway_s": 2, "jwks_refresh_cooldown_s": 0, **overrides}
    settings = AuthSettings(jwks_url=dev.jwks_url, issuer=dev.issuer, **options)  # type: ignore[arg-type]
    return JwtVerifier(settings)


def test_valid_token_gives_the_principal(dev: DevAuth) -> None:
    token = dev.issue_token("user_1", "ada@example.com")
    principal = _verifier(dev).verify(token)
    assert principal.user_id == "user_1"
    assert principal.email == "ada@example.com"
    assert principal.claims["iss"] == "https://issuer.test"


async def test_async_verify(dev: DevAuth) -> None:
    principal = await _verifier(dev).averify(dev.issue_token("user_2"))
    assert principal.user_id == "user_2"
    assert principal.email is None


@pytest.mark.parametrize(
    ("token_of", "code"),
    [
        (lambda d: None, "missing_token"),
        (lambda d: "", "missing_token"),
        (lambda d: "not-a-jwt", "invalid_token"),
        (lambda d: d.issue_token("u", ttl=-60), "token_expired"),
        (lambda d: DevAuth(d.directory, issuer="https://other").issue_token("u"), "invalid_token"),
    ],
)
def test_rejected_tokens(dev: DevAuth, token_of: object, code: str) -> None:
    with pytest.raises(AuthError) as caught:
        _verifier(dev).verify(token_of(dev))  # type: ignore[operator]
    assert caught.value.code == code
    assert caught.value.retryable is False


def test_leeway_admits_a_just_expired_token(dev: DevAuth) -> None:
    token = dev.issue_token("u", ttl=-1)
    assert _verifier(dev, leeway_s=30).verify(token).user_id == "u"


def test_token_signed_by_another_key_is_refused(dev: DevAuth, tmp_path: Path) -> None:
    other = DevAuth(tmp_path / "other", issuer=dev.issuer).ensure()
    forged = jwt.encode(
        {"sub": "u", "iss": dev.issuer, "exp": int(time.time()) + 60},
        other.private_key(),
        algorithm="RS256",
        headers={"kid": dev.public_jwk()["kid"]},
    )
    with pytest.raises(AuthError) as caught:
        _verifier(dev).verify(forged)
    assert caught.value.code == "invalid_token"


def test_hs256_token_is_refused(dev: DevAuth) -> None:
    token = jwt.encode(
        {"sub": "u", "iss": dev.issuer, "exp": int(time.time()) + 60},
        "secret" * 6,
        algorithm="HS256",
        headers={"kid": dev.public_jwk()["kid"]},
    )
    with pytest.raises(AuthError):
        _verifier(dev).verify(token)


def test_audience_is_checked_when_configured(dev: DevAuth) -> None:
    verifier = _verifier(dev, audience="studio")
    assert verifier.verify(dev.issue_token("u", audience="studio")).user_id == "u"
    with pytest.raises(AuthError):
        verifier.verify(dev.issue_token("u", audience="elsewhere"))
    with pytest.raises(AuthError):
        verifier.verify(dev.issue_token("u"))


def test_authorized_parties(dev: DevAuth) -> None:
    verifier = _verifier(dev, authorized_parties=["http://localhost:3000"])
    ok = dev.issue_token("u", extra={"azp": "http://localhost:3000"})
    assert verifier.verify(ok).user_id == "u"
    with pytest.raises(AuthError):
        verifier.verify(dev.issue_token("u", extra={"azp": "https://evil.example"}))


def test_jwks_is_cached_and_refetched_for_a_new_kid(dev: DevAuth, tmp_path: Path) -> None:
    verifier = _verifier(dev)
    verifier.verify(dev.issue_token("u"))
    # Rotate: a new key replaces the file; the cached set lacks the new kid, so it is refetched.
    rotated = DevAuth(tmp_path / "rotated", issuer=dev.issuer).ensure()
    Path(dev.jwks_path).write_text(json.dumps(rotated.jwks()))
    assert verifier.verify(rotated.issue_token("v")).user_id == "v"


def test_unreachable_jwks_is_retryable(tmp_path: Path, dev: DevAuth) -> None:
    settings = AuthSettings(jwks_url=(tmp_path / "missing.json").as_uri(), issuer=dev.issuer)
    with pytest.raises(AuthError) as caught:
        JwtVerifier(settings).verify(dev.issue_token("u"))
    assert caught.value.code == "auth_unavailable"
    assert caught.value.retryable is True


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None


def test_a_typed_email_counts_only_in_development() -> None:
    claimed, bare = Principal("u1", "u1@example.com"), Principal("u2", None)
    # Development: the claim wins, a typed address fills in when there is none.
    assert confirmation_email(claimed, "other@example.com", production=False) == "u1@example.com"
    assert confirmation_email(bare, "typed@example.com", production=False) == "typed@example.com"
    # Production: only the verified claim; another typed address is refused, not used.
    assert confirmation_email(claimed, None, production=True) == "u1@example.com"
    assert confirmation_email(claimed, "u1@example.com", production=True) == "u1@example.com"
    assert confirmation_email(bare, None, production=True) is None
    with pytest.raises(TypedEmailRefused):
        confirmation_email(claimed, "other@example.com", production=True)
    with pytest.raises(TypedEmailRefused):
        confirmation_email(bare, "typed@example.com", production=True)
