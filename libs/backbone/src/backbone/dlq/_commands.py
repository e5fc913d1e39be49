"""The `dlq` subcommands that read: topics, list, show and audit."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from aiokafka import TopicPartition
from rich.console import Console

from backbone.dlq import _render as render
from backbone.dlq._audit import read_trail
from backbone.dlq._errors import DlqError
from backbone.dlq._reader import Bounds, DeadLetter, DlqReader
from backbone.dlq._selection import (
    Coordinate,
    OffsetRange,
    Selection,
    parse_coordinate,
    parse_range,
    parse_time,
)
from backbone.settings import KafkaSettings
from contracts.topics import dlq_topic


@dataclass
class Context:
    """What every subcommand needs: the broker settings and where to write."""

    kafka: KafkaSettings
    out: Console
    err: Console
    raw_out: BinaryIO | None = None


def selection_from(args: argparse.Namespace, partitions: int) -> Selection:
    """The selection the options describe (options a subcommand lacks count as absent)."""
    since = getattr(args, "since", None)
    until = getattr(args, "until", None)
    selection = Selection(
        coordinates=tuple(
            parse_coordinate(o, partitions) for o in getattr(args, "offset", None) or ()
        ),
        ranges=tuple(parse_range(r, partitions) for r in getattr(args, "offsets", None) or ()),
        event_id=getattr(args, "event_id", None),
        event_type=getattr(args, "type", None),
        error_class=getattr(args, "error", None),
        since=parse_time(since) if since is not None else None,
        until=parse_time(until) if until is not None else None,
        everything=bool(getattr(args, "all", False)),
    )
    if selection.since and selection.until and selection.until <= selection.since:
        raise DlqError(
            f"--until ({selection.until.isoformat()}) must be after --since"
            f" ({selection.since.isoformat()})"
        )
    return selection


def check_places(topic: str, bounds: Bounds, selection: Selection) -> None:
    """Every offset and range named must lie within what its partition holds."""
    places: list[Coordinate | OffsetRange] = [*selection.coordinates, *selection.ranges]
    for place in places:
        start, end = bounds.get(TopicPartition(topic, place.partition), (0, 0))
        first, last = (
            (place.offset, place.offset)
            if isinstance(place, Coordinate)
            else (place.first, place.last)
        )
        if first < start or last >= end:
            held = f"offsets {start}-{end - 1}" if end > start else "no records"
            raise DlqError(
                f"offset {place} is out of range: partition {place.partition} of {topic}"
                f" holds {held}"
            )


async def select(reader: DlqReader, group: str, selection: Selection) -> list[DeadLetter]:
    """The dead letters of `group` that `selection` picks, checked against the topic's bounds."""
    topic = await reader.dlq_of(group)
    bounds = await reader.bounds([topic])
    check_places(topic, bounds, selection)
    places: list[Coordinate | OffsetRange] = [*selection.coordinates, *selection.ranges]
    if places:
        # Only the spans named are read, not the whole topic.
        spans: dict[TopicPartition, tuple[int, int]] = {}
        for place in places:
            tp = TopicPartition(topic, place.partition)
            first = place.offset if isinstance(place, Coordinate) else place.first
            last = place.offset if isinstance(place, Coordinate) else place.last
            low, high = spans.get(tp, (first, last + 1))
            spans[tp] = (min(low, first), max(high, last + 1))
        bounds = spans
    return selection.within(DeadLetter.of(m) for m in await reader.read(bounds))


def chronological(entries: list[DeadLetter]) -> list[DeadLetter]:
    """Oldest failure first; ties (and entries without a time) in partition/offset order."""
    far_past = datetime.min.replace(tzinfo=UTC)
    return sorted(entries, key=lambda e: (e.failed_at or far_past, e.coordinate))


async def topics_command(ctx: Context, args: argparse.Namespace) -> int:
    """`dlq topics`."""
    async with DlqReader(ctx.kafka) as reader:
        groups = await reader.groups()
        names = await reader.topic_names()
        present = [dlq_topic(g) for g in groups if dlq_topic(g) in names]
        bounds = await reader.bounds(present)
        heads = {tp: (start, start + 1) for tp, (start, end) in bounds.items() if end > start}
        oldest: dict[str, datetime] = {}
        for message in await reader.read(heads):
            when = DeadLetter.of(message).failed_at
            if when is not None and (message.topic not in oldest or when < oldest[message.topic]):
                oldest[message.topic] = when
    rows = []
    for group in groups:
        topic = dlq_topic(group)
        parts = {tp: b for tp, b in bounds.items() if tp.topic == topic}
        rows.append(
            render.TopicRow(
                group=group,
                topic=topic,
                exists=topic in names,
                depth=sum(end - start for start, end in parts.values()),
                partitions=len(parts),
                oldest=oldest.get(topic),
            )
        )
    render.print_topics(ctx.out, rows, datetime.now(UTC), as_json=args.json)
    return 0


async def list_command(ctx: Context, args: argparse.Namespace) -> int:
    """`dlq list`."""
    if args.limit is not None and args.limit < 1:
        raise DlqError("--limit must be at least 1")
    async with DlqReader(ctx.kafka) as reader:
        topic = await reader.dlq_of(args.group)
        selection = selection_from(args, await reader.partition_count(topic))
        entries = chronological(await select(reader, args.group, selection))
    if args.limit is not None:
        entries = entries[: args.limit]
    render.print_entries(ctx.out, entries, as_json=args.json)
    return 0


async def show_command(ctx: Context, args: argparse.Namespace) -> int:
    """`dlq show`."""
    async with DlqReader(ctx.kafka) as reader:
        topic = await reader.dlq_of(args.group)
        place = parse_coordinate(args.entry, await reader.partition_count(topic))
        [entry] = await reader.entries_at(args.group, [place])
    if args.raw:
        sink = ctx.raw_out or sys.stdout.buffer
        sink.write(entry.message.value or b"")
        sink.flush()
    else:
        render.print_show(ctx.out, entry, as_json=args.json)
    return 0


async def audit_command(ctx: Context, args: argparse.Namespace) -> int:
    """`dlq audit`."""
    if args.limit is not None and args.limit < 1:
        raise DlqError("--limit must be at least 1")
    async with DlqReader(ctx.kafka) as reader:
        trail = await read_trail(reader)
    records = trail.of_group(args.group)
    if args.limit is not None:
        records = records[-args.limit :]
    if trail.unreadable:
        ctx.err.print(f"note: {trail.unreadable} record(s) on the audit topic could not be read")
    render.print_audit(ctx.out, records, as_json=args.json)
    return 0
