"""The development token issuer: a stable key, its JWKS file, and the CLI behind `make token`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from backbone.auth import AuthSettings, JwtVerifier
from devstack.devauth import DevAuth, main


def test_key_is_created_once_and_reused(tmp_path: Path) -> None:
    first = DevAuth(tmp_path).ensure()
    kid = first.public_jwk()["kid"]
    assert (first.key_path.stat().st_mode & 0o777) == 0o600
    second = DevAuth(tmp_path).ensure()
    assert second.public_jwk()["kid"] == kid
    jwks = json.loads(first.jwks_path.read_text())
    assert [k["kid"] for k in jwks["keys"]] == [kid]
    assert jwks["keys"][0]["kty"] == "RSA"
    assert "d" not in jwks["keys"][0], "the JWKS must hold only the public key"
    assert first.jwks_url.startswith("file://")


def test_token_claims(tmp_path: Path) -> None:
    auth = DevAuth(tmp_path, issuer="https://dev.test")
    token = auth.issue_token("user_9", "bo@example.com", ttl=120)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "RS256"
    assert header["kid"] == auth.public_jwk()["kid"]
    assert claims["sub"] == "user_9"
    assert claims["email"] == "bo@example.com"
    assert claims["iss"] == "https://dev.test"
    assert 100 <= claims["exp"] - claims["iat"] <= 120


def test_cli_token_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--dir", str(tmp_path), "token", "--user", "u1", "--email", "a@b.c"]) == 0
    token = capsys.readouterr().out.strip()
    auth = DevAuth(tmp_path)
    verifier = JwtVerifier(AuthSettings(jwks_url=auth.jwks_url, issuer=auth.issuer))
    assert verifier.verify(token).email == "a@b.c"


def test_module_entrypoint(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "devstack.devauth", "--dir", str(tmp_path), "env"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"AUTH_JWKS_URL={DevAuth(tmp_path).jwks_url}" in out
    assert "AUTH_ISSUER=" in out
