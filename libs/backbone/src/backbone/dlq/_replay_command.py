"""`dlq replay`: select, warn about earlier replays, confirm, send with progress, audit."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.prompt import Confirm
from rich.text import Text

from backbone.dlq import _render as render
from backbone.dlq._audit import AuditTrail, compress, publish, read_trail
from backbone.dlq._commands import Context, select, selection_from
from backbone.dlq._errors import BrokerError, DlqError
from backbone.dlq._reader import DeadLetter, DlqReader
from backbone.dlq._replay import ReplayInterrupted, ReplayStamp, replay_record, send_paced
from backbone.dlq._selection import Selection, parse_rate
from backbone.kafka import Producer
from contracts.deadletter import DlqReplayAuditV1
from contracts.topics import retry_topic

PREVIEW_ROWS = 20
# Below this many records a progress bar would only flicker.
PROGRESS_FROM = 50


def operator_name(given: str | None) -> str:
    """--operator, else the OS user."""
    if given:
        return given
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or "unknown"


def _checked_selection(args: argparse.Namespace, partitions: int) -> Selection:
    selection = selection_from(args, partitions)
    if selection.everything and not selection.is_empty:
        raise DlqError("--all replays everything: do not combine it with other selectors")
    if not selection.everything and selection.is_empty:
        raise DlqError(
            "say what to replay: --offset, --offsets, --event-id, --type, --error,"
            " --since/--until, or --all"
        )
    return selection


def _warn_replayed_before(
    ctx: Context, group: str, selected: Sequence[DeadLetter], trail: AuditTrail
) -> int:
    before = trail.already_replayed(group, [e.coordinate for e in selected])
    if not before:
        return 0
    replays = {r.replay_id: r for records in before.values() for r in records}
    ctx.err.print(
        Text(
            f"note: {len(before)} of the {len(selected)} selected dead letter(s) were already"
            f" replayed, by {len(replays)} earlier replay(s):",
            style="yellow",
        )
    )
    for record in sorted(replays.values(), key=lambda r: r.replayed_at)[-5:]:
        ctx.err.print(
            Text(
                f"  {record.replay_id} at {record.replayed_at.isoformat()} by {record.operator}"
                f" ({record.count}: {record.selection})"
            )
        )
    ctx.err.print(
        Text(
            "Replaying them again is harmless: consumers are idempotent and skip events they"
            " already processed."
        )
    )
    return len(before)


def _confirm(ctx: Context, question: str) -> bool:
    try:
        return Confirm.ask(question, console=ctx.err, default=False)
    except EOFError:
        return False


async def replay_command(ctx: Context, args: argparse.Namespace) -> int:
    """`dlq replay`."""
    group = args.group
    rate = parse_rate(args.rate) if args.rate is not None else None
    async with DlqReader(ctx.kafka) as reader:
        topic = await reader.dlq_of(group)
        selection = _checked_selection(args, await reader.partition_count(topic))
        target = retry_topic(group)
        if target not in await reader.topic_names():
            raise DlqError(f"{target} does not exist: nothing reads replays of {group}")
        selected = await select(reader, group, selection)
        trail = await read_trail(reader)
    described = selection.describe(topic)
    if not selected:
        ctx.out.print(Text(f"nothing selected ({described}): nothing to replay"))
        return 0
    seen_before = _warn_replayed_before(ctx, group, selected, trail)
    ctx.out.print(Text(f"{len(selected)} dead letter(s) selected ({described}) -> {target}"))
    render.print_entries(ctx.out, selected[:PREVIEW_ROWS], as_json=False)
    if len(selected) > PREVIEW_ROWS:
        ctx.out.print(Text(f"... and {len(selected) - PREVIEW_ROWS} more"))

    stamp = ReplayStamp(uuid.uuid4(), datetime.now(UTC), operator_name(args.operator))
    producer = Producer(ctx.kafka, client_id=f"{ctx.kafka.client_id}-dlq-replay")
    try:
        if args.dry_run:
            await publish(producer, _audit(stamp, group, described, selected, dry_run=True))
            ctx.out.print(
                Text(
                    f"dry run: {len(selected)} dead letter(s) would be replayed into {target};"
                    f" nothing was written there (audited as {stamp.replay_id})"
                )
            )
            return 0
        if not args.yes and not _confirm(ctx, f"Replay {len(selected)} into {target}?"):
            ctx.err.print("aborted: nothing replayed")
            return 1
        sent = await _send(
            ctx,
            producer=producer,
            group=group,
            described=described,
            selected=selected,
            stamp=stamp,
            rate=rate,
        )
        await publish(producer, _audit(stamp, group, described, selected, dry_run=False))
    finally:
        await producer.stop()
    again = f"; {seen_before} had been replayed before" if seen_before else ""
    ctx.out.print(
        Text(
            f"replayed {sent} dead letter(s) from {topic} into {target}{again}"
            f" (replay {stamp.replay_id} by {stamp.operator}, audited on dlq.audit)"
        )
    )
    return 0


async def _send(
    ctx: Context,
    *,
    producer: Producer,
    group: str,
    described: str,
    selected: Sequence[DeadLetter],
    stamp: ReplayStamp,
    rate: float | None,
) -> int:
    records = [replay_record(e, group, stamp) for e in selected]
    progress = Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=ctx.err,
        disable=len(records) < PROGRESS_FROM or not ctx.err.is_terminal,
    )
    with progress:
        task = progress.add_task("replay", total=len(records))
        try:
            return await send_paced(
                producer, records, rate=rate, progress=lambda n: progress.advance(task, n)
            )
        except ReplayInterrupted as exc:
            done = selected[: exc.sent]
            described = f"{described} (interrupted after {exc.sent} of {len(records)})"
            # Best effort: the broker just failed, but an audit of what did go out is worth a try.
            with contextlib.suppress(BrokerError):
                await publish(producer, _audit(stamp, group, described, done, dry_run=False))
            raise BrokerError(
                f"broker failed after {exc.sent} of {len(records)} were replayed ({exc});"
                f" first unsent: {selected[exc.sent].coordinate}"
            ) from exc


def _audit(
    stamp: ReplayStamp,
    group: str,
    described: str,
    selected: Sequence[DeadLetter],
    *,
    dry_run: bool,
) -> DlqReplayAuditV1:
    return DlqReplayAuditV1(
        replay_id=stamp.replay_id,
        group=group,
        operator=stamp.operator,
        replayed_at=stamp.replayed_at,
        selection=described,
        count=len(selected),
        dry_run=dry_run,
        entries=compress([e.coordinate for e in selected]),
    )
