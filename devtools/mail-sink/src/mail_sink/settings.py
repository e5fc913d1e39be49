"""Runtime settings of the mail sink, read from MAIL_SINK_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer port, got {raw!r}") from None
    if not 0 <= value <= 65535:
        raise ValueError(f"{name} must be between 0 and 65535, got {value}")
    return value


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """Where the sink listens and how it behaves; defaults match Mailpit's ports."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    http_host: str = "127.0.0.1"
    http_port: int = 8025
    max_messages: int = 500
    max_message_size: int = 32 * 1024 * 1024
    accept_auth: bool = False
    auth_username: str | None = None
    auth_password: str | None = None
    hostname: str = "mail-sink"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from MAIL_SINK_* variables, falling back to the defaults."""
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            smtp_host=env.get("MAIL_SINK_SMTP_HOST") or defaults.smtp_host,
            smtp_port=_port(env, "MAIL_SINK_SMTP_PORT", defaults.smtp_port),
            http_host=env.get("MAIL_SINK_HTTP_HOST") or defaults.http_host,
            http_port=_port(env, "MAIL_SINK_HTTP_PORT", defaults.http_port),
            max_messages=_positive(env, "MAIL_SINK_MAX_MESSAGES", defaults.max_messages),
            max_message_size=_positive(
                env, "MAIL_SINK_MAX_MESSAGE_SIZE", defaults.max_message_size
            ),
            accept_auth=_flag(env, "MAIL_SINK_ACCEPT_AUTH"),
            auth_username=env.get("MAIL_SINK_AUTH_USERNAME") or None,
            auth_password=env.get("MAIL_SINK_AUTH_PASSWORD") or None,
            hostname=env.get("MAIL_SINK_HOSTNAME") or defaults.hostname,
        )
