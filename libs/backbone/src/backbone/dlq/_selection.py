"""What an operator selects in a dead-letter topic: places, ranges, filters and time windows.

A dead letter is addressed as `<partition>:<offset>` because a DLQ topic has several partitions;
a plain offset is accepted when the topic has exactly one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from backbone.dlq._errors import DlqError

COORDINATE_PATTERN = re.compile(r"^\s*(?:(\d+)\s*:\s*)?(\d+)\s*$")
RANGE_PATTERN = re.compile(r"^\s*(?:(\d+)\s*:\s*)?(\d+)\s*-\s*(\d+)\s*$")
_AGE = re.compile(r"^\s*-?(\d+(?:\.\d+)?)\s*([smhdw])\s*(?:ago)?\s*$")
_AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*s)?\s*$")

TIME_HELP = (
    "ISO 8601 (2025-03-15T09:00:00Z; no zone means UTC), a date (2025-03-15), 'now',"
    " or an age such as 30s, 15m, 2h, 1d, 1w (that long ago)"
)


@dataclass(frozen=True, order=True)
class Coordinate:
    """The place of one dead letter in its DLQ topic."""

    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.partition}:{self.offset}"


@dataclass(frozen=True)
class OffsetRange:
    """Offsets first..last (both included) of one partition."""

    partition: int
    first: int
    last: int

    def __contains__(self, place: object) -> bool:
        return (
            isinstance(place, Coordinate)
            and place.partition == self.partition
            and self.first <= place.offset <= self.last
        )

    def __str__(self) -> str:
        return f"{self.partition}:{self.first}-{self.last}"


def _partition(given: str | None, partitions: int, text: str) -> int:
    if given is not None:
        partition = int(given)
        if partition >= partitions:
            raise DlqError(
                f"partition {partition} does not exist: the topic has {partitions}"
                f" (0-{partitions - 1})"
            )
        return partition
    if partitions == 1:
        return 0
    raise DlqError(
        f"'{text}' is ambiguous: the topic has {partitions} partitions,"
        " write <partition>:<offset> (as `dlq list` shows)"
    )


def parse_coordinate(text: str, partitions: int) -> Coordinate:
    """`<partition>:<offset>`, or a plain offset on a one-partition topic."""
    match = COORDINATE_PATTERN.match(text)
    if not match:
        raise DlqError(f"cannot read offset '{text}': expected <partition>:<offset>, e.g. 2:17")
    return Coordinate(_partition(match.group(1), partitions, text), int(match.group(2)))


def parse_range(text: str, partitions: int) -> OffsetRange:
    """`<partition>:<first>-<last>` (both included), or `<first>-<last>` on one partition."""
    match = RANGE_PATTERN.match(text)
    if not match:
        raise DlqError(
            f"cannot read range '{text}': expected <partition>:<first>-<last>, e.g. 2:10-42"
        )
    first, last = int(match.group(2)), int(match.group(3))
    if last < first:
        raise DlqError(f"range '{text}' ends before it starts")
    return OffsetRange(_partition(match.group(1), partitions, text), first, last)


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """An aware datetime from ISO 8601, a date, 'now', or an age like '2h' (two hours ago)."""
    now = now or datetime.now(UTC)
    cleaned = text.strip()
    if cleaned.lower() == "now":
        return now
    if age := _AGE.match(cleaned.lower()):
        return now - timedelta(**{_AGE_UNITS[age.group(2)]: float(age.group(1))})
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        raise DlqError(f"cannot read time '{text}': use {TIME_HELP}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_rate(text: str) -> float:
    """Records per second, written `N` or `N/s`."""
    match = _RATE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise DlqError(
            f"cannot read rate '{text}': expected a positive number per second, e.g. 50/s"
        )
    return float(match.group(1))


class Selectable(Protocol):
    """What a selection looks at in a dead letter."""

    @property
    def coordinate(self) -> Coordinate: ...
    @property
    def event_id(self) -> str | None: ...
    @property
    def event_type(self) -> str | None: ...
    @property
    def error_class(self) -> str | None: ...
    @property
    def failed_at(self) -> datetime | None: ...


S = TypeVar("S", bound=Selectable)


@dataclass(frozen=True)
class Selection:
    """Places (any of) and filters (all of); the time window is since <= failed-at < until."""

    coordinates: tuple[Coordinate, ...] = ()
    ranges: tuple[OffsetRange, ...] = ()
    event_id: str | None = None
    event_type: str | None = None
    error_class: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    everything: bool = field(default=False)

    @property
    def is_empty(self) -> bool:
        """True when nothing narrows the selection (and `--all` was not said)."""
        return not (
            self.coordinates
            or self.ranges
            or self.event_id
            or self.event_type
            or self.error_class
            or self.since
            or self.until
        )

    def matches(self, entry: Selectable) -> bool:
        """Whether `entry` is selected."""
        places: list[Coordinate | OffsetRange] = [*self.coordinates, *self.ranges]
        if places and not any(_at(place, entry.coordinate) for place in places):
            return False
        if self.event_id is not None and entry.event_id != self.event_id:
            return False
        if self.event_type is not None and entry.event_type != self.event_type:
            return False
        if self.error_class is not None and not _same_error(entry.error_class, self.error_class):
            return False
        if self.since is None and self.until is None:
            return True
        # The window is applied here, on each record's own time, never through the broker's
        # offsets_for_times (which Tansu answers by receive time, and with 0 past the end).
        when = entry.failed_at
        if when is None:
            return False
        return (self.since is None or when >= self.since) and (
            self.until is None or when < self.until
        )

    def describe(self, topic: str) -> str:
        """The selection in words, for confirmation prompts and the audit record."""
        parts: list[str] = []
        if self.coordinates:
            parts.append("offsets " + ", ".join(str(c) for c in self.coordinates))
        if self.ranges:
            parts.append("ranges " + ", ".join(str(r) for r in self.ranges))
        for label, value in (
            ("event id", self.event_id),
            ("event type", self.event_type),
            ("error class", self.error_class),
        ):
            if value is not None:
                parts.append(f"{label} {value}")
        if self.since is not None:
            parts.append(f"failed at or after {self.since.isoformat()}")
        if self.until is not None:
            parts.append(f"failed before {self.until.isoformat()}")
        return f"{topic}: " + ("; ".join(parts) if parts else "all dead letters")

    def within(self, entries: Iterable[S]) -> list[S]:
        """The entries selected, in the order given."""
        return [e for e in entries if self.matches(e)]


def _at(place: Coordinate | OffsetRange, coordinate: Coordinate) -> bool:
    return place == coordinate if isinstance(place, Coordinate) else coordinate in place


def _same_error(actual: str | None, wanted: str) -> bool:
    # Operators type "SMTPServerDisconnected" as often as "smtplib.SMTPServerDisconnected".
    if actual is None:
        return False
    return actual == wanted or actual.rsplit(".", 1)[-1] == wanted
