"""Turn raw RFC 5322 bytes plus the SMTP envelope into a StoredMessage, parsed when first read.

The MIME structure is parsed with the compat32 policy (header values stay strings), and only
the headers the API shows go through the modern policy's header parsing, once each: the
default policy re-parses Content-Type on every look at a part, ten times the cost for the same
result.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from email import policy
from email.contentmanager import raw_data_manager
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from mail_sink.store import Address, Attachment, Content, StoredMessage

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_FOLD = re.compile(r"\r?\n[ \t]+")
# Structure only: headers stay raw strings until _values parses the few the API shows.
_STRUCTURE = policy.compat32.clone(message_factory=EmailMessage)


def new_id() -> str:
    """A random 22-character base62 ID, like Mailpit's."""
    value = uuid.uuid4().int
    chars = []
    for _ in range(22):
        value, rem = divmod(value, 62)
        chars.append(_BASE62[rem])
    return "".join(chars)


def _values(msg: Message, name: str) -> list[Any]:
    """Every `name` header of `msg`, parsed as the default policy would parse it."""
    wanted = name.lower()
    return [
        policy.default.header_fetch_parse(key, value)
        for key, value in msg.raw_items()
        if key.lower() == wanted
    ]


def _header(msg: Message, name: str) -> str:
    try:
        values = _values(msg, name)
    except Exception:  # a malformed header must not lose the message
        return ""
    return str(values[0]).strip() if values else ""


def _addresses(msg: Message, name: str) -> list[Address]:
    try:
        values = _values(msg, name)
        found = [Address(a.display_name, a.addr_spec) for v in values for a in v.addresses]
    except Exception:  # fall back to the lenient parser on malformed headers
        raw = [str(v) for k, v in msg.raw_items() if k.lower() == name.lower()]
        found = [Address(n, a) for n, a in getaddresses(raw)]
    return [a for a in found if a.address or a.name]


def _date(msg: Message) -> datetime | None:
    value = _header(msg, "Date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _content(part: Message) -> str:
    try:
        content = part.get_content(content_manager=raw_data_manager)  # type: ignore[attr-defined]
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return str(content).replace("\r\n", "\n")


def _leaves(part: Message, path: str = "") -> Iterator[tuple[str, Message]]:
    if part.get_content_maintype() == "multipart" and isinstance(part.get_payload(), list):
        for index, sub in enumerate(part.get_payload(), 1):
            yield from _leaves(sub, f"{path}.{index}" if path else str(index))
    else:
        yield path or "1", part


def _describe(part_id: str, part: Message) -> Attachment:
    payload = part.get_payload(decode=True)
    return Attachment(
        part_id=part_id,
        file_name=part.get_filename() or "",
        content_type=part.get_content_type(),
        content_id=str(part.get("Content-ID", "")).strip().strip("<>"),
        size=len(payload) if isinstance(payload, bytes) else 0,
    )


def parse_message(
    raw: bytes,
    *,
    envelope_from: str,
    envelope_to: list[str],
    received_at: datetime,
    username: str = "",
) -> StoredMessage:
    """The message to store: `raw` and its envelope now, the content parsed when first read."""
    return StoredMessage(
        id=new_id(),
        raw=raw,
        received_at=received_at,
        envelope_from=envelope_from,
        envelope_to=list(envelope_to),
        username=username,
        parser=parse_content,
    )


def parse_content(message: StoredMessage) -> Content:
    """Parse `message.raw` leniently; anything unreadable is left empty rather than refused."""
    msg = BytesParser(policy=_STRUCTURE).parsebytes(message.raw)
    assert isinstance(msg, EmailMessage)
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    attachments: list[Attachment] = []
    inline: list[Attachment] = []
    for part_id, part in _leaves(msg):
        if part is text_part or part is html_part:
            continue
        disposition = part.get_content_disposition()
        if disposition == "attachment":
            attachments.append(_describe(part_id, part))
        elif part.get("Content-ID") or (disposition == "inline" and part.get_filename()):
            inline.append(_describe(part_id, part))
        elif part.get_content_maintype() != "text":
            attachments.append(_describe(part_id, part))
    to = _addresses(msg, "To")
    cc = _addresses(msg, "Cc")
    listed = {a.address.lower() for a in (*to, *cc)}
    bcc = _addresses(msg, "Bcc") or [
        Address("", r) for r in message.envelope_to if r.lower() not in listed
    ]
    senders = _addresses(msg, "From")
    return Content(
        message_id=_header(msg, "Message-ID").strip("<>"),
        subject=_header(msg, "Subject"),
        from_=senders[0] if senders else None,
        to=to,
        cc=cc,
        bcc=bcc,
        reply_to=_addresses(msg, "Reply-To"),
        return_path=_header(msg, "Return-Path").strip("<>") or message.envelope_from,
        date=_date(msg),
        headers=[(k, _FOLD.sub(" ", str(v)).strip()) for k, v in msg.raw_items()],
        text=_content(text_part) if text_part is not None else "",
        html=_content(html_part) if html_part is not None else "",
        attachments=attachments,
        inline=inline,
    )
