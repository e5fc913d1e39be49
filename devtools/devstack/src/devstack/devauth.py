"""The development stack's own token issuer: an RSA key, its JWKS file, and Clerk-shaped tokens.

Services verify these tokens with backbone.auth exactly as they verify Clerk's: the JWKS is a
JSON file reached through a file:// URL (PyJWT's PyJWKClient reads it with urllib).

    python -m devstack.devauth token --user user_1 --email ada@example.com   # `make token`
    python -m devstack.devauth env                                           # AUTH_* to export
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from backbone.auth import DEV_AUTH_DIR, DEV_ISSUER, JWKS_FILENAME

KEY_FILENAME = "signing-key.pem"
DEFAULT_TTL_S = 3600


def _thumbprint(jwk: dict[str, Any]) -> str:
    # RFC 7638: the SHA-256 of the required members in lexicographic order, no whitespace.
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_bytes(data)
    tmp.chmod(mode)
    os.replace(tmp, path)


class DevAuth:
    """A signing key kept under `directory`, created on first use and reused after."""

    def __init__(self, directory: Path | str | None = None, *, issuer: str = DEV_ISSUER) -> None:
        self.directory = Path(directory or os.environ.get("DEV_AUTH_DIR") or DEV_AUTH_DIR)
        self.issuer = issuer
        self._key: rsa.RSAPrivateKey | None = None

    @property
    def key_path(self) -> Path:
        """The PEM private key (mode 0600)."""
        return self.directory / KEY_FILENAME

    @property
    def jwks_path(self) -> Path:
        """The JWKS file with the public key."""
        return self.directory / JWKS_FILENAME

    @property
    def jwks_url(self) -> str:
        """The file:// URL services use as AUTH_JWKS_URL."""
        return self.jwks_path.resolve().as_uri()

    def ensure(self) -> DevAuth:
        """Create the key pair and the JWKS if missing (safe when several processes race)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.key_path.exists():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            tmp = self.key_path.with_name(f".{KEY_FILENAME}.{uuid.uuid4().hex}")
            tmp.write_bytes(pem)
            tmp.chmod(0o600)
            try:
                # link() fails if another process won the race: then its key is the one kept.
                os.link(tmp, self.key_path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        jwks = json.dumps(self.jwks(), indent=2).encode()
        if not self.jwks_path.exists() or self.jwks_path.read_bytes() != jwks:
            _write_atomically(self.jwks_path, jwks)
        return self

    def private_key(self) -> rsa.RSAPrivateKey:
        """The signing key (created if missing)."""
        if self._key is None:
            if not self.key_path.exists():
                self.ensure()
            loaded = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise TypeError(f"{self.key_path} is not an RSA key")
            self._key = loaded
        return self._key

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK with its thumbprint as `kid`."""
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.private_key().public_key(), as_dict=True)
        jwk.update({"kid": _thumbprint(jwk), "use": "sig", "alg": "RS256"})
        return jwk

    def jwks(self) -> dict[str, Any]:
        """The JWK Set served to verifiers."""
        return {"keys": [self.public_jwk()]}

    def issue_token(
        self,
        user_id: str,
        email: str | None = None,
        ttl: float = DEFAULT_TTL_S,
        *,
        audience: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A Clerk-shaped RS256 session token for `user_id` (negative ttl: already expired)."""
        self.ensure()
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": user_id,
            "iat": now,
            "nbf": now - 5,
            "exp": now + int(ttl),
            "sid": f"sess_{uuid.uuid4().hex[:24]}",
        }
        if email:
            claims["email"] = email
        if audience:
            claims["aud"] = audience
        claims.update(extra or {})
        headers = {"kid": self.public_jwk()["kid"], "typ": "JWT"}
        return jwt.encode(claims, self.private_key(), algorithm="RS256", headers=headers)


def issue_token(
    user_id: str, email: str | None = None, ttl: float = DEFAULT_TTL_S, **kwargs: Any
) -> str:
    """A token from the default development key (DEV_AUTH_DIR or .data/dev-auth)."""
    return DevAuth().issue_token(user_id, email, ttl, **kwargs)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m devstack.devauth token|jwks|env`."""
    parser = argparse.ArgumentParser(prog="devauth", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="key directory (DEV_AUTH_DIR)")
    parser.add_argument("--issuer", default=DEV_ISSUER, help="the `iss` claim")
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print a token valid for the local stack")
    token.add_argument("--user", required=True, help="the user id (`sub`)")
    token.add_argument("--email", default=None, help="the user's e-mail (`email` claim)")
    token.add_argument("--ttl", type=int, default=DEFAULT_TTL_S, help="lifetime in seconds")
    token.add_argument("--audience", default=None, help="the `aud` claim, if any")
    commands.add_parser("jwks", help="create the key if needed and print the JWKS URL")
    commands.add_parser("env", help="print the AUTH_* variables services need")
    args = parser.parse_args(argv)
    auth = DevAuth(args.dir, issuer=args.issuer).ensure()
    if args.command == "token":
        print(auth.issue_token(args.user, args.email, args.ttl, audience=args.audience))
    elif args.command == "jwks":
        print(auth.jwks_url)
    else:
        print(f"AUTH_JWKS_URL={auth.jwks_url}\nAUTH_ISSUER={auth.issuer}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
