"""A subset of Mailpit's search syntax: field filters, quoted phrases, negation, plain words."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from mail_sink.store import Address, StoredMessage

_TOKEN = re.compile(
    r'(?P<neg>[-!])?(?:(?P<field>[A-Za-z][A-Za-z-]*):)?(?:"(?P<q>[^"]*)"?|(?P<w>\S+))'
)
_TAGS = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Term:
    """One search condition; `field` None means free text."""

    negated: bool
    field: str | None
    value: str


def _people(addresses: list[Address]) -> str:
    return " ".join(f"{a.name} <{a.address}>" for a in addresses).lower()


def _free_text(m: StoredMessage) -> str:
    senders = [m.from_] if m.from_ else []
    parts = [m.subject, m.message_id, m.text, _TAGS.sub(" ", m.html)]
    parts += [_people(senders), _people(m.to), _people(m.cc), _people(m.bcc)]
    return "\n".join(parts).lower()


def _has(m: StoredMessage, value: str) -> bool:
    return value in {"attachment", "attachments"} and bool(m.attachments)


def _is(m: StoredMessage, value: str) -> bool:
    return {"read": m.read, "unread": not m.read}.get(value, False)


_FIELDS: dict[str, Callable[[StoredMessage, str], bool]] = {
    "to": lambda m, v: v in _people(m.to),
    "from": lambda m, v: v in _people([m.from_] if m.from_ else []),
    "cc": lambda m, v: v in _people(m.cc),
    "bcc": lambda m, v: v in _people(m.bcc),
    "reply-to": lambda m, v: v in _people(m.reply_to),
    "addressed": lambda m, v: v in _people([*m.to, *m.cc, *m.bcc]),
    "subject": lambda m, v: v in m.subject.lower(),
    "message-id": lambda m, v: v.strip("<>") == m.message_id.lower(),
    "tag": lambda m, v: v in {t.lower() for t in m.tags},
    "is": _is,
    "has": _has,
}


def parse_query(query: str) -> list[Term]:
    """Split a query into terms; unknown `field:` prefixes are searched as plain text."""
    terms: list[Term] = []
    for match in _TOKEN.finditer(query):
        field = (match.group("field") or "").lower() or None
        value = match.group("q") if match.group("q") is not None else match.group("w") or ""
        if field is not None and field not in _FIELDS:
            value, field = f"{match.group('field')}:{value}", None
        if value or field:
            terms.append(Term(bool(match.group("neg")), field, value.lower()))
    return terms


def matches(message: StoredMessage, terms: list[Term]) -> bool:
    """Whether `message` satisfies every term (terms are ANDed)."""
    text: str | None = None
    for term in terms:
        if term.field is None:
            if text is None:
                text = _free_text(message)
            hit = term.value in text
        else:
            hit = _FIELDS[term.field](message, term.value)
        if hit == term.negated:
            return False
    return True


def search(messages: list[StoredMessage], query: str) -> list[StoredMessage]:
    """The messages matching `query`, in the given order."""
    terms = parse_query(query)
    return [m for m in messages if matches(m, terms)]
