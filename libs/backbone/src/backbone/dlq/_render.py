"""How `dlq` shows things: rich tables on a terminal, one JSON object per line with --json."""

from __future__ import annotations

import base64
import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.json import JSON
from rich.table import Table
from rich.text import Text

from backbone.dlq._reader import DeadLetter
from contracts.deadletter import DlqReplayAuditV1

TABLE_ERROR_CHARS = 80


@dataclass(frozen=True)
class TopicRow:
    """One line of `dlq topics`."""

    group: str
    topic: str
    exists: bool
    depth: int
    partitions: int
    oldest: datetime | None


# Characters that reorder what a terminal shows without being visible (Unicode bidi controls).
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with every control character escaped (`\\x1b`, `\\n`, `\\u202e`).

    Error messages, headers, keys and payloads come from whoever produced the record: printed
    as they are, an ESC sequence could rewrite the operator's screen or title, or hide a row.
    """
    out = []
    for char in text:
        if (keep_newlines and char in "\n\t") or (
            unicodedata.category(char) != "Cc" and char not in _BIDI
        ):
            out.append(char)
        else:
            out.append(char.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def _safe(text: str | None, default: str = "") -> Text:
    """Untrusted text as a rich Text (no markup), control characters escaped."""
    return Text(printable(text if text is not None else default))


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _shown(raw: bytes | None) -> str:
    """Bytes as text when they are UTF-8, else as a Python bytes literal (never lossy)."""
    if raw is None:
        return "(null)"
    text = _text(raw)
    return text if text is not None else repr(raw)


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def entry_json(entry: DeadLetter) -> dict[str, Any]:
    """A dead letter's summary as JSON-ready values."""
    dl = entry.headers
    return {
        "entry": str(entry.coordinate),
        "partition": entry.message.partition,
        "offset": entry.message.offset,
        "failed_at": _when(entry.failed_at),
        "event_id": entry.event_id,
        "event_type": entry.event_type,
        "error_class": entry.error_class,
        "error_message": dl.error_message if dl else entry.problem,
        "attempts": dl.attempts if dl else None,
        "original_topic": dl.original_topic if dl else None,
        "original_partition": dl.original_partition if dl else None,
        "original_offset": dl.original_offset if dl else None,
        "key": _shown(entry.message.key) if entry.message.key is not None else None,
    }


def print_entries(console: Console, entries: Sequence[DeadLetter], *, as_json: bool) -> None:
    """The rows of `dlq list`."""
    if as_json:
        for entry in entries:
            console.out(json.dumps(entry_json(entry)), highlight=False)
        return
    table = Table(title=f"{len(entries)} dead letter(s)", title_justify="left")
    for column in ("entry", "failed at", "event id", "type", "error", "attempts"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        row = entry_json(entry)
        error = printable(f"{row['error_class'] or '?'}: {row['error_message'] or ''}")
        if len(error) > TABLE_ERROR_CHARS:
            error = error[: TABLE_ERROR_CHARS - 1] + "…"
        table.add_row(
            Text(row["entry"]),
            Text(row["failed_at"] or "?"),
            _safe(row["event_id"], "-"),
            _safe(row["event_type"], "-"),
            Text(error),
            Text(str(row["attempts"] or "?")),
        )
    console.print(table)


def show_json(entry: DeadLetter) -> dict[str, Any]:
    """Everything about one dead letter; bytes that are not UTF-8 are given in base64."""
    message = entry.message
    out: dict[str, Any] = {
        **entry_json(entry),
        "timestamp_ms": message.timestamp_ms,
        "headers": [[name, _shown(value)] for name, value in message.headers],
    }
    for name, raw in (("key", message.key), ("value", message.value)):
        text = _text(raw)
        out[name] = text
        if raw is not None and text is None:
            out[f"{name}_base64"] = base64.b64encode(raw).decode()
    return out


def print_show(console: Console, entry: DeadLetter, *, as_json: bool) -> None:
    """`dlq show`: headers, key and payload (pretty JSON when it is JSON)."""
    if as_json:
        console.out(json.dumps(show_json(entry)), highlight=False)
        return
    message = entry.message
    console.print(Text(printable(f"{message.topic} {entry.coordinate}"), style="bold"))
    if entry.problem:
        problem = printable(f"not a valid dead letter: {entry.problem}")
        console.print(Text(problem, style="yellow"))
    headers = Table(title="headers", title_justify="left")
    headers.add_column("name", overflow="fold")
    headers.add_column("value", overflow="fold")
    for name, value in message.headers:
        headers.add_row(_safe(name), _safe(_shown(value)))
    console.print(headers)
    console.print(Text("key: ") + _safe(_shown(message.key)))
    size = len(message.value) if message.value is not None else 0
    console.print(Text(f"value ({size} bytes; `--raw` writes them exactly):", style="bold"))
    text = _text(message.value)
    if text is not None:
        try:
            json.loads(text)
        except ValueError:
            console.print(Text(printable(text, keep_newlines=True)))
        else:
            # ensure_ascii: JSON escapes C0 controls anyway; this also escapes C1 and bidi ones.
            console.print(JSON(text, ensure_ascii=True))
    else:
        console.print(_safe(_shown(message.value)))


def _age(oldest: datetime | None, now: datetime) -> str:
    if oldest is None:
        return "-"
    seconds = int(max((now - oldest).total_seconds(), 0))
    return str(timedelta(seconds=seconds))


def print_topics(
    console: Console, rows: Iterable[TopicRow], now: datetime, *, as_json: bool
) -> None:
    """`dlq topics`: each group's DLQ, its depth and the age of its oldest entry."""
    if as_json:
        for row in rows:
            payload = {
                "group": row.group,
                "topic": row.topic,
                "exists": row.exists,
                "depth": row.depth,
                "partitions": row.partitions,
                "oldest_failed_at": _when(row.oldest),
                "oldest_age_s": int((now - row.oldest).total_seconds()) if row.oldest else None,
            }
            console.out(json.dumps(payload), highlight=False)
        return
    table = Table(title="dead-letter topics", title_justify="left")
    for column in ("group", "topic", "depth", "partitions", "oldest entry age"):
        table.add_column(column, overflow="fold")
    for row in rows:
        depth = str(row.depth) if row.exists else "(missing)"
        table.add_row(
            _safe(row.group), _safe(row.topic), depth, str(row.partitions), _age(row.oldest, now)
        )
    console.print(table)


def audit_json(record: DlqReplayAuditV1) -> dict[str, Any]:
    """An audit record as JSON-ready values."""
    return record.model_dump(mode="json")


def print_audit(console: Console, records: Sequence[DlqReplayAuditV1], *, as_json: bool) -> None:
    """`dlq audit`: who replayed what, when, how many."""
    if as_json:
        for record in records:
            console.out(json.dumps(audit_json(record)), highlight=False)
        return
    table = Table(title=f"{len(records)} replay(s)", title_justify="left")
    for column in ("replayed at", "group", "operator", "count", "dry run", "selection", "id"):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(
            Text(r.replayed_at.isoformat()),
            _safe(r.group),
            _safe(r.operator),
            str(r.count),
            "yes" if r.dry_run else "no",
            _safe(r.selection),
            Text(str(r.replay_id)),
        )
    console.print(table)
