"""Wording helpers: money in minor units, time slots, one-line subjects, links and addresses."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlsplit

# ISO 4217 currencies Stripe treats as having no minor unit (amounts are whole units).
ZERO_DECIMAL = frozenset(
    {
        *("bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"),
        *("pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"),
    }
)
_SYMBOLS = {"eur": "€", "usd": "$", "gbp": "£"}
_WHITESPACE = re.compile(r"\s+")
# Deliberately loose: the SMTP server is the judge of an address; this only rules out what
# cannot be put in an envelope at all (no @, spaces, control characters, angle brackets).
_ADDRESS = re.compile(r"^[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+\.[^\s@<>()\[\],;:\"\\]+$")


def format_money(amount: int, currency: str) -> str:
    """`15000, "eur"` -> `€150.00`; unknown symbols as `150.00 CHF`."""
    code = currency.lower()
    value = f"{amount:,}" if code in ZERO_DECIMAL else f"{Decimal(amount).scaleb(-2):,.2f}"
    symbol = _SYMBOLS.get(code)
    return f"{symbol}{value}" if symbol else f"{value} {code.upper()}"


def _zone(moment: datetime) -> str:
    offset = moment.strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"


def format_moment(moment: datetime) -> str:
    """`Friday 14 March 2025 11:30 (UTC+00:00)`, in the moment's own zone."""
    return f"{moment:%A} {moment.day} {moment:%B %Y %H:%M} ({_zone(moment)})"


def format_slot(starts_at: datetime, ends_at: datetime) -> str:
    """`Friday 14 March 2025, 14:00-16:00 (UTC+01:00)`, in the zone the slot was booked in."""
    day = f"{starts_at:%A} {starts_at.day} {starts_at:%B %Y}"
    label = _zone(starts_at)
    if ends_at.astimezone(starts_at.tzinfo).date() == starts_at.date():
        return f"{day}, {starts_at:%H:%M}-{ends_at.astimezone(starts_at.tzinfo):%H:%M} ({label})"
    ends = ends_at.astimezone(starts_at.tzinfo)
    return f"{day} {starts_at:%H:%M} to {ends:%A} {ends.day} {ends:%B %Y} {ends:%H:%M} ({label})"


def one_line(text: str, limit: int = 150) -> str:
    """Text fit for a header: whitespace (newlines included) collapsed, length bounded."""
    flat = _WHITESPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def safe_link(url: str | None, fallback: str) -> str:
    """`url` if it is an http(s) link, else `fallback`: a fact's link must never become a
    `javascript:` or `data:` href in the HTML part."""
    if url:
        parts = urlsplit(url.strip())
        if parts.scheme in {"http", "https"} and parts.netloc:
            return url.strip()
    return fallback


def is_deliverable_address(address: str) -> bool:
    """Whether `address` can go in an SMTP envelope at all."""
    return bool(_ADDRESS.match(address))
