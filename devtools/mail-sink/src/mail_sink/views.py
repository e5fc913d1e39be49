"""JSON shapes of Mailpit's API v1, built from stored messages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from mail_sink.store import Address, Attachment, StoredMessage

_SPACE = re.compile(r"\s+")
_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]*>", re.IGNORECASE | re.DOTALL)
SNIPPET_LENGTH = 250


def timestamp(value: datetime) -> str:
    """RFC 3339 with milliseconds, UTC shown as Z, like Go's JSON times."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _address(a: Address) -> dict[str, str]:
    return {"Name": a.name, "Address": a.address}


def _addresses(items: list[Address]) -> list[dict[str, str]]:
    return [_address(a) for a in items]


def _attachment(a: Attachment) -> dict[str, Any]:
    return {
        "PartID": a.part_id,
        "FileName": a.file_name,
        "ContentType": a.content_type,
        "ContentID": a.content_id,
        "Size": a.size,
    }


def snippet(message: StoredMessage) -> str:
    """The first characters of the text (or tag-stripped HTML), whitespace collapsed."""
    source = message.text or _TAGS.sub(" ", message.html)
    text = _SPACE.sub(" ", source).strip()
    return text if len(text) <= SNIPPET_LENGTH else text[:SNIPPET_LENGTH].rstrip() + "..."


def summary(message: StoredMessage) -> dict[str, Any]:
    """One entry of a message list."""
    return {
        "ID": message.id,
        "MessageID": message.message_id,
        "Read": message.read,
        "From": _address(message.from_) if message.from_ else None,
        "To": _addresses(message.to),
        "Cc": _addresses(message.cc),
        "Bcc": _addresses(message.bcc),
        "ReplyTo": _addresses(message.reply_to),
        "Subject": message.subject,
        "Created": timestamp(message.received_at),
        "Username": message.username,
        "Tags": list(message.tags),
        "Size": message.size,
        "Attachments": len(message.attachments),
        "Snippet": snippet(message),
    }


def message_list(
    page: list[StoredMessage],
    *,
    total: int,
    unread: int,
    matched: list[StoredMessage],
    start: int,
) -> dict[str, Any]:
    """A message list or search result page."""
    tags = sorted({t for m in matched for t in m.tags})
    return {
        "total": total,
        "unread": unread,
        "count": len(page),
        "messages_count": len(matched),
        "messages_unread": sum(1 for m in matched if not m.read),
        "start": start,
        "tags": tags,
        "messages": [summary(m) for m in page],
    }


def full(message: StoredMessage) -> dict[str, Any]:
    """The full message, as GET /api/v1/message/{ID} returns it."""
    return {
        "ID": message.id,
        "MessageID": message.message_id,
        "From": _address(message.from_) if message.from_ else None,
        "To": _addresses(message.to),
        "Cc": _addresses(message.cc),
        "Bcc": _addresses(message.bcc),
        "ReplyTo": _addresses(message.reply_to),
        "ReturnPath": message.return_path,
        "Subject": message.subject,
        "ListUnsubscribe": {"Header": "", "Links": [], "Errors": "", "HeaderPost": ""},
        "Date": timestamp(message.date or message.received_at),
        "Tags": list(message.tags),
        "Username": message.username,
        "Text": message.text,
        "HTML": message.html,
        "Size": message.size,
        "Inline": [_attachment(a) for a in message.inline],
        "Attachments": [_attachment(a) for a in message.attachments],
        "Envelope": {"From": message.envelope_from, "To": list(message.envelope_to)},
    }


def canonical_header(name: str) -> str:
    """Go's textproto canonical form (Message-Id, Content-Type), which Mailpit returns."""
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))


def headers(message: StoredMessage) -> dict[str, list[str]]:
    """Raw (still encoded, unfolded) header values by canonical name, in order."""
    result: dict[str, list[str]] = {}
    for name, value in message.headers:
        result.setdefault(canonical_header(name), []).append(value)
    return result
