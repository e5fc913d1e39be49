"""A consumed Kafka record as our handlers see it, and the one handler interface that takes them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Headers = Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class Message:
    """One record: where it came from, and its key, value and headers exactly as stored."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = field(default=())
    timestamp_ms: int = -1

    def header(self, name: str) -> str | None:
        """The last value of header `name` decoded as UTF-8, or None."""
        for key, value in reversed(self.headers):
            if key == name:
                return value.decode("utf-8", errors="replace") if value is not None else ""
        return None

    @classmethod
    def from_record(cls, record: Any) -> Message:
        """Adapt an aiokafka ConsumerRecord."""
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=tuple((k, v if v is not None else b"") for k, v in (record.headers or ())),
            timestamp_ms=record.timestamp if record.timestamp is not None else -1,
        )


def encode_headers(headers: dict[str, str | None]) -> list[tuple[str, bytes]]:
    """Headers from a mapping of text values, dropping the absent ones."""
    return [(k, v.encode("utf-8")) for k, v in headers.items() if v is not None]


BatchHandler = Callable[[Sequence[Message]], Awaitable[None]]
"""What every consumer hands its records to: a batch, in order, handled all or nothing (one
transaction); a single record is a batch of one. Raise to have the batch tried again (split in
halves unless the failure is an outage), PermanentError to dead-letter a lone record at once."""
