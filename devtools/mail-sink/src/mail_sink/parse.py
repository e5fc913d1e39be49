"""Turn raw RFC 5322 bytes plus the SMTP envelope into a StoredMessage."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

from mail_sink.store import Address, Attachment, StoredMessage

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_FOLD = re.compile(r"\r?\n[ \t]+")


def new_id() -> str:
    """A random 22-character base62 ID, like Mailpit's."""
    value = uuid.uuid4().int
    chars = []
    for _ in range(22):
        value, rem = divmod(value, 62)
        chars.append(_BASE62[rem])
    return "".join(chars)


def _header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a malformed header must not lose the message
        return ""
    return "" if value is None else str(value).strip()


def _addresses(msg: EmailMessage, name: str) -> list[Address]:
    try:
        values = msg.get_all(name) or []
        found = [Address(a.display_name, a.addr_spec) for v in values for a in v.addresses]
    except Exception:  # fall back to the lenient parser on malformed headers
        raw = [str(v) for v in msg.get_all(name, [])]
        found = [Address(n, a) for n, a in getaddresses(raw)]
    return [a for a in found if a.address or a.name]


def _date(msg: EmailMessage) -> datetime | None:
    value = _header(msg, "Date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _content(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
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
    """Parse `raw` leniently; anything unreadable is left empty rather than refused."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
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
    bcc = _addresses(msg, "Bcc") or [Address("", r) for r in envelope_to if r.lower() not in listed]
    senders = _addresses(msg, "From")
    return StoredMessage(
        id=new_id(),
        raw=raw,
        received_at=received_at,
        envelope_from=envelope_from,
        envelope_to=list(envelope_to),
        username=username,
        message_id=_header(msg, "Message-ID").strip("<>"),
        subject=_header(msg, "Subject"),
        from_=senders[0] if senders else None,
        to=to,
        cc=cc,
        bcc=bcc,
        reply_to=_addresses(msg, "Reply-To"),
        return_path=_header(msg, "Return-Path").strip("<>") or envelope_from,
        date=_date(msg),
        headers=[(k, _FOLD.sub(" ", str(v)).strip()) for k, v in msg.raw_items()],
        text=_content(text_part) if text_part is not None else "",
        html=_content(html_part) if html_part is not None else "",
        attachments=attachments,
        inline=inline,
    )
