"""In-memory, bounded store of received messages, oldest dropped first."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Address:
    """A display name and an address, as in a From/To/Cc header."""

    name: str
    address: str


@dataclass(frozen=True)
class Attachment:
    """One attached or inline MIME part (not the text or HTML body)."""

    part_id: str
    file_name: str
    content_type: str
    content_id: str
    size: int


@dataclass(frozen=True)
class Content:
    """What parsing a message's raw bytes gives: its headers, addresses, bodies and parts."""

    message_id: str
    subject: str
    from_: Address | None
    to: list[Address]
    cc: list[Address]
    bcc: list[Address]
    reply_to: list[Address]
    return_path: str
    date: datetime | None
    headers: list[tuple[str, str]]
    text: str
    html: str
    attachments: list[Attachment] = field(default_factory=list)
    inline: list[Attachment] = field(default_factory=list)


@dataclass(eq=False)
class StoredMessage:
    """One accepted message: envelope and raw bytes, and the content parsed from them.

    The content is parsed on first access (the API or a search reading it) and kept, so
    accepting a message costs no parsing: under load most messages are never read.
    """

    id: str
    raw: bytes
    received_at: datetime
    envelope_from: str
    envelope_to: list[str]
    username: str
    parser: Callable[[StoredMessage], Content] = field(repr=False)
    tags: list[str] = field(default_factory=list)
    read: bool = False
    _content: Content | None = field(default=None, init=False, repr=False)

    @property
    def content(self) -> Content:
        """The parsed content (parsed once; two threads racing parse it twice, harmlessly)."""
        content = self._content
        if content is None:
            content = self._content = self.parser(self)
        return content

    @property
    def parsed(self) -> bool:
        """Whether the content has been parsed yet."""
        return self._content is not None

    @property
    def size(self) -> int:
        """Size of the raw message in bytes."""
        return len(self.raw)

    @property
    def message_id(self) -> str:
        """Message-ID, without the angle brackets."""
        return self.content.message_id

    @property
    def subject(self) -> str:
        """The decoded subject."""
        return self.content.subject

    @property
    def from_(self) -> Address | None:
        """The first From address."""
        return self.content.from_

    @property
    def to(self) -> list[Address]:
        """To addresses."""
        return self.content.to

    @property
    def cc(self) -> list[Address]:
        """Cc addresses."""
        return self.content.cc

    @property
    def bcc(self) -> list[Address]:
        """Bcc, or the envelope recipients absent from To and Cc."""
        return self.content.bcc

    @property
    def reply_to(self) -> list[Address]:
        """Reply-To addresses."""
        return self.content.reply_to

    @property
    def return_path(self) -> str:
        """Return-Path, else the envelope sender."""
        return self.content.return_path

    @property
    def date(self) -> datetime | None:
        """The Date header, when readable."""
        return self.content.date

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Raw header values, unfolded, in order."""
        return self.content.headers

    @property
    def text(self) -> str:
        """The text/plain body."""
        return self.content.text

    @property
    def html(self) -> str:
        """The text/html body."""
        return self.content.html

    @property
    def attachments(self) -> list[Attachment]:
        """Attached parts."""
        return self.content.attachments

    @property
    def inline(self) -> list[Attachment]:
        """Inline parts (with a Content-ID, or inline with a file name)."""
        return self.content.inline


class MessageStore:
    """Thread-safe store keeping at most `max_messages`, evicting the oldest."""

    def __init__(self, max_messages: int = 500) -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        self.max_messages = max_messages
        self._messages: OrderedDict[str, StoredMessage] = OrderedDict()
        self._lock = threading.Lock()
        self._received = 0

    def add(self, message: StoredMessage) -> list[StoredMessage]:
        """Keep `message`; return the messages dropped to stay within the bound."""
        dropped: list[StoredMessage] = []
        with self._lock:
            self._messages[message.id] = message
            self._received += 1
            while len(self._messages) > self.max_messages:
                dropped.append(self._messages.popitem(last=False)[1])
        return dropped

    def newest_first(self) -> list[StoredMessage]:
        """All kept messages, the most recently received first."""
        with self._lock:
            return list(reversed(self._messages.values()))

    def get(self, message_id: str) -> StoredMessage | None:
        """The message with this store ID, or None."""
        with self._lock:
            return self._messages.get(message_id)

    def latest(self) -> StoredMessage | None:
        """The most recently received message, or None when empty."""
        with self._lock:
            return next(reversed(self._messages.values()), None)

    def delete(self, ids: Iterable[str] | None = None) -> int:
        """Delete the given IDs (all messages when None); return how many went."""
        with self._lock:
            if ids is None:
                count = len(self._messages)
                self._messages.clear()
                return count
            return sum(1 for i in set(ids) if self._messages.pop(i, None) is not None)

    def set_read(self, ids: Iterable[str] | None, read: bool) -> None:
        """Mark the given IDs (all when None) read or unread."""
        with self._lock:
            targets = self._messages.keys() if ids is None else set(ids)
            for message_id in targets:
                message = self._messages.get(message_id)
                if message is not None:
                    message.read = read

    @property
    def unread(self) -> int:
        """How many kept messages have not been opened through the API."""
        with self._lock:
            return sum(1 for m in self._messages.values() if not m.read)

    @property
    def received(self) -> int:
        """How many messages were accepted since start, including dropped ones."""
        with self._lock:
            return self._received

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)
