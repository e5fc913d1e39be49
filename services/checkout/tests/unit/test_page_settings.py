"""The page's deployment switches: dev sign-in only in development, Clerk from its key, CSP."""

from __future__ import annotations

import base64

from checkout.entrypoints.routes.pages import security_headers
from checkout.settings import Settings


def _key(host: str) -> str:
    return "pk_test_" + base64.b64encode(f"{host}$".encode()).decode().rstrip("=")


def test_dev_sign_in_only_in_development_without_clerk() -> None:
    assert Settings(environment="development").dev_sign_in
    assert not Settings(environment="production").dev_sign_in
    assert not Settings(
        environment="development", clerk_publishable_key=_key("a.clerk.dev")
    ).dev_sign_in


def test_clerk_frontend_api_is_decoded_from_the_publishable_key() -> None:
    settings = Settings(clerk_publishable_key=_key("clean-owl-12.clerk.accounts.dev"))
    assert settings.clerk_frontend_api == "clean-owl-12.clerk.accounts.dev"
    assert Settings().clerk_frontend_api is None
    # Anything but a host name never reaches the page's script URL or its CSP.
    assert Settings(clerk_publishable_key=_key("evil.example/x'")).clerk_frontend_api is None
    assert Settings(clerk_publishable_key="pk_test_%%%").clerk_frontend_api is None


def test_policy_admits_only_our_origin_unless_clerk_is_configured() -> None:
    plain = security_headers(Settings())["Content-Security-Policy"]
    assert "script-src 'self';" in plain
    assert "connect-src 'self';" in plain
    assert "unsafe-inline" not in plain
    clerk = security_headers(Settings(clerk_publishable_key=_key("a.clerk.dev")))
    policy = clerk["Content-Security-Policy"]
    assert "script-src 'self' https://a.clerk.dev;" in policy
    assert "connect-src 'self' https://a.clerk.dev;" in policy
