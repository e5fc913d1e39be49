"""What one notification is: its template, recipient, subject, content and stable Message-ID."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID


class Status(StrEnum):
    """Where a notification stands; the row keyed by the fact's event_id carries it."""

    SENDING = "sending"  # claimed: a send is under way, or was when a worker died
    SENT = "sent"  # the SMTP server accepted it: never send again
    FAILED = "failed"  # refused for good (bad address): never retried automatically


class Claim(StrEnum):
    """What claiming a fact's notification row found."""

    NEW = "new"  # first time: send
    RESEND = "resend"  # left in `sending` (crash or failed attempt): send again, same Message-ID
    DONE = "done"  # already sent or failed for good: nothing to do


@dataclass(frozen=True)
class Email:
    """An e-mail the fact calls for, before rendering: the template fills in the body."""

    event_id: UUID
    event_type: str
    template: str
    recipient: str
    subject: str
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RenderedEmail:
    """An e-mail ready for SMTP: both bodies rendered and the Message-ID fixed."""

    email: Email
    message_id: str
    text: str
    html: str


@dataclass(frozen=True)
class UnknownFact:
    """A fact of a type this notifier does not know (a newer one published beside the ones it
    knows): acknowledged and counted, no e-mail."""

    event_type: str


def message_id_for(event_id: UUID, domain: str) -> str:
    """The Message-ID of the e-mail about `event_id`: the same on every attempt and re-send, so
    a duplicate after a crash between send and mark is recognisable as the same message."""
    return f"<{event_id}@{domain}>"
