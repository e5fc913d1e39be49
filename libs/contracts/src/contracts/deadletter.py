"""The dead-letter header set as a model, and the audit record of a replay on dlq.audit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Final
from uuid import UUID

from pydantic import BeforeValidator, Field

from contracts import headers as h
from contracts.base import Contract, NonEmptyStr, Timestamp

# Headers travel with every dead letter and Kafka caps the whole record, so a traceback-sized
# message is cut rather than risk the dead letter itself being refused by the broker.
MAX_ERROR_MESSAGE_CHARS: Final = 2000
MAX_ERROR_CLASS_CHARS: Final = 300
_TRUNCATION_MARK: Final = "…[truncated]"

Header = tuple[str, bytes | None]


def _bounded(limit: int) -> BeforeValidator:
    def cut(value: Any) -> Any:
        if isinstance(value, str) and len(value) > limit:
            return value[: limit - len(_TRUNCATION_MARK)] + _TRUNCATION_MARK
        return value

    return BeforeValidator(cut)


# Model field -> header name, in the order headers.DLQ_HEADERS lists them.
_FIELD_TO_HEADER: Final = {
    "original_topic": h.DLQ_ORIGINAL_TOPIC,
    "original_partition": h.DLQ_ORIGINAL_PARTITION,
    "original_offset": h.DLQ_ORIGINAL_OFFSET,
    "original_timestamp": h.DLQ_ORIGINAL_TIMESTAMP,
    "consumer_group": h.DLQ_CONSUMER_GROUP,
    "error_class": h.DLQ_ERROR_CLASS,
    "error_message": h.DLQ_ERROR_MESSAGE,
    "attempts": h.DLQ_ATTEMPTS,
    "failed_at": h.DLQ_FAILED_AT,
}


class DeadLetterHeadersV1(Contract):
    """Headers added to a message written to <group>.dlq; its key, value and headers stay as is."""

    original_topic: NonEmptyStr = Field(description="The topic the message was consumed from.")
    original_partition: int = Field(ge=0, description="Its partition there.")
    original_offset: int = Field(ge=0, description="Its offset there.")
    original_timestamp: int | None = Field(
        default=None,
        description="Its Kafka timestamp in milliseconds since the epoch, if it had one.",
    )
    consumer_group: NonEmptyStr = Field(description="The group that gave up on it.")
    error_class: Annotated[str, _bounded(MAX_ERROR_CLASS_CHARS)] = Field(
        max_length=MAX_ERROR_CLASS_CHARS, description="The qualified class of the last error."
    )
    error_message: Annotated[str, _bounded(MAX_ERROR_MESSAGE_CHARS)] = Field(
        max_length=MAX_ERROR_MESSAGE_CHARS,
        description=f"The last error's message, cut to {MAX_ERROR_MESSAGE_CHARS} characters.",
    )
    attempts: int = Field(ge=1, description="How many times the handler was tried.")
    failed_at: Timestamp = Field(description="When the message was dead-lettered (ISO 8601).")

    def to_headers(self) -> list[tuple[str, bytes]]:
        """The dead-letter headers as Kafka headers (UTF-8 values), in headers.DLQ_HEADERS order."""
        values = self.model_dump(mode="json")
        return [
            (name, str(values[field]).encode())
            for field, name in _FIELD_TO_HEADER.items()
            if values[field] is not None
        ]

    @classmethod
    def from_headers(cls, headers: Iterable[Header]) -> DeadLetterHeadersV1:
        """Read the dead-letter headers out of a record's headers; other headers are ignored.

        Where a header repeats, the last one wins: it was added by the latest dead-lettering.
        """
        by_name: dict[str, str] = {}
        for name, raw in headers:
            if name in h.DLQ_HEADERS and raw is not None:
                # An operator must still see a dead letter whose header bytes are not UTF-8.
                by_name[name] = raw.decode("utf-8", errors="replace")
        missing = [
            name
            for field, name in _FIELD_TO_HEADER.items()
            if name not in by_name and cls.model_fields[field].is_required()
        ]
        if missing:
            raise ValueError(f"not a dead letter: missing header(s) {', '.join(missing)}")
        return cls.model_validate(
            {field: by_name[name] for field, name in _FIELD_TO_HEADER.items() if name in by_name}
        )


def without_dead_letter_headers(headers: Iterable[Header]) -> list[Header]:
    """The record's headers minus the dead-letter set: what a replay should send on."""
    return [(name, value) for name, value in headers if name not in h.DLQ_HEADERS]


class DlqReplayAuditV1(Contract):
    """Published on dlq.audit each time an operator replays (or dry-runs) dead letters."""

    replay_id: UUID = Field(description="This replay's id, also set as a header on each replayed.")
    group: NonEmptyStr = Field(description="The consumer group whose <group>.dlq was replayed.")
    operator: NonEmptyStr = Field(description="Who ran the replay.")
    replayed_at: Timestamp = Field(description="When the replay ran.")
    selection: str = Field(
        description="What was selected, in words, e.g. 'offsets 10-42 of partition 3'."
    )
    count: int = Field(ge=0, description="How many dead letters were (or would be) replayed.")
    dry_run: bool = Field(description="True when nothing was written to <group>.retry.")
    entries: list[str] = Field(
        default_factory=list,
        description=(
            "The dead letters selected, by place in <group>.dlq: '<partition>:<offset>' or"
            " '<partition>:<first>-<last>' (inclusive), so a later replay can tell what was"
            " already replayed."
        ),
    )
