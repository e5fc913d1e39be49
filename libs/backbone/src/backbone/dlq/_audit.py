"""The replay audit trail on dlq.audit: writing one record per replay, reading them back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from backbone.dlq._errors import BrokerError
from backbone.dlq._reader import DlqReader
from backbone.dlq._selection import COORDINATE_PATTERN, RANGE_PATTERN, Coordinate, OffsetRange
from backbone.kafka import BrokerUnavailable, Message, Producer
from contracts import headers as h
from contracts.deadletter import DlqReplayAuditV1
from contracts.topics import DLQ_AUDIT


async def publish(producer: Producer, record: DlqReplayAuditV1) -> None:
    """Write `record` to dlq.audit, keyed by group, and wait for the acknowledgement."""
    try:
        await producer.send(
            DLQ_AUDIT,
            record.model_dump_json().encode(),
            key=record.group.encode(),
            headers=[(h.REPLAY_ID, str(record.replay_id).encode())],
        )
    except BrokerUnavailable as exc:
        raise BrokerError(f"could not write the audit record to {DLQ_AUDIT}: {exc}") from exc


@dataclass(frozen=True)
class AuditTrail:
    """The audit records read, and how many records on the topic could not be read as one."""

    records: list[DlqReplayAuditV1]
    unreadable: int = 0

    def of_group(self, group: str | None) -> list[DlqReplayAuditV1]:
        """The records of `group` (every record when None), oldest first."""
        return [r for r in self.records if group is None or r.group == group]

    def already_replayed(
        self, group: str, places: Sequence[Coordinate]
    ) -> dict[Coordinate, list[DlqReplayAuditV1]]:
        """For each place among `places` an earlier real (not dry-run) replay included, those."""
        earlier = [r for r in self.of_group(group) if not r.dry_run and r.entries]
        found: dict[Coordinate, list[DlqReplayAuditV1]] = {}
        for record in earlier:
            ranges = expand(record.entries)
            for place in places:
                if any(place in r for r in ranges):
                    found.setdefault(place, []).append(record)
        return found


async def read_trail(reader: DlqReader) -> AuditTrail:
    """Every audit record on dlq.audit, oldest first per partition (it has one)."""
    if DLQ_AUDIT not in await reader.topic_names():
        return AuditTrail([])
    messages = await reader.read(await reader.bounds([DLQ_AUDIT]))
    return parse(messages)


def parse(messages: Iterable[Message]) -> AuditTrail:
    """Audit records from raw messages; foreign or broken ones are counted, not fatal."""
    records: list[DlqReplayAuditV1] = []
    unreadable = 0
    for message in messages:
        try:
            records.append(DlqReplayAuditV1.model_validate_json(message.value or b""))
        except ValidationError:
            unreadable += 1
    records.sort(key=lambda r: r.replayed_at)
    return AuditTrail(records, unreadable)


def compress(places: Sequence[Coordinate]) -> list[str]:
    """Places as the fewest `<p>:<o>` / `<p>:<first>-<last>` strings (for the audit record)."""
    out: list[str] = []
    ordered = sorted(set(places))
    i = 0
    while i < len(ordered):
        j = i
        while (
            j + 1 < len(ordered)
            and ordered[j + 1].partition == ordered[i].partition
            and ordered[j + 1].offset == ordered[j].offset + 1
        ):
            j += 1
        first, last = ordered[i], ordered[j]
        out.append(str(first) if i == j else f"{first}-{last.offset}")
        i = j + 1
    return out


def expand(written: Iterable[str]) -> list[OffsetRange]:
    """The ranges an audit record's `entries` stand for; unreadable items are skipped."""
    ranges: list[OffsetRange] = []
    for item in written:
        if match := RANGE_PATTERN.match(item):
            ranges.append(
                OffsetRange(int(match.group(1) or 0), int(match.group(2)), int(match.group(3)))
            )
        elif match := COORDINATE_PATTERN.match(item):
            offset = int(match.group(2))
            ranges.append(OffsetRange(int(match.group(1) or 0), offset, offset))
    return ranges
