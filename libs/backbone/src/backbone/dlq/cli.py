"""`dlq`: inspect and replay consumer groups' dead letters, straight from Kafka."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, BinaryIO, TextIO

from aiokafka.errors import KafkaError
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from backbone.dlq._commands import (
    Context,
    audit_command,
    list_command,
    show_command,
    topics_command,
)
from backbone.dlq._errors import BAD_INPUT, BROKER_FAILED, DlqError
from backbone.dlq._render import printable
from backbone.dlq._replay_command import replay_command
from backbone.settings import KafkaSettings, LogSettings

Command = Callable[[Context, argparse.Namespace], Coroutine[Any, Any, int]]

DESCRIPTION = """\
Inspect and replay dead letters. A consumer group <group> that gives up on a message writes it,
untouched plus dead-letter headers, to <group>.dlq; `dlq replay` writes it back into
<group>.retry, which only that group reads. <group> is any group with a <group>.dlq topic.
"""

EPILOG = """\
addressing: a dead letter is <partition>:<offset> in <group>.dlq (e.g. 2:17), as `dlq list` shows;
  a plain offset is accepted when the topic has one partition. A range is
  <partition>:<first>-<last>, both included (e.g. 2:10-42).
times (--since, --until): ISO 8601 (2025-03-15T09:00:00Z; no zone means UTC), a date
  (2025-03-15), 'now', or an age such as 30s, 15m, 2h, 1d, 1w (that long ago). The window is
  since <= failed-at < until, on each dead letter's failed-at header, filtered client-side.
environment: KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092) and the other KAFKA_* settings;
  LOG_LEVEL (default WARNING).
exit codes: 0 done, 1 broker unreachable or failing (or a replay not confirmed), 2 bad input
  (unknown group, offset out of range, a time that does not parse...).
"""


def _filters(parser: argparse.ArgumentParser, *, since_help: str) -> None:
    parser.add_argument("--type", metavar="T", help="event type header equals T")
    parser.add_argument("--event-id", metavar="ID", help="event id header equals ID")
    parser.add_argument(
        "--error", metavar="CLASS", help="error class is CLASS (qualified, or its last part)"
    )
    parser.add_argument("--since", metavar="T", help=since_help)
    parser.add_argument("--until", metavar="T", help="failed before T")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="dlq", description=DESCRIPTION, epilog=EPILOG, formatter_class=fmt
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    topics = sub.add_parser(
        "topics",
        help="each group's DLQ: depth and oldest entry's age",
        epilog=EPILOG,
        formatter_class=fmt,
    )
    topics.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    topics.set_defaults(run=topics_command)

    listing = sub.add_parser(
        "list", help="one row per dead letter, oldest first", epilog=EPILOG, formatter_class=fmt
    )
    listing.add_argument("group")
    _filters(listing, since_help="failed at or after T")
    listing.add_argument("--limit", type=int, metavar="N", help="the N oldest matching only")
    listing.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    listing.set_defaults(run=list_command)

    show = sub.add_parser(
        "show", help="one dead letter's headers and payload", epilog=EPILOG, formatter_class=fmt
    )
    show.add_argument("group")
    show.add_argument("entry", metavar="PARTITION:OFFSET")
    how = show.add_mutually_exclusive_group()
    how.add_argument("--json", action="store_true", help="one JSON object")
    how.add_argument("--raw", action="store_true", help="write the payload bytes exactly, only")
    show.set_defaults(run=show_command)

    replay = sub.add_parser(
        "replay",
        help="write selected dead letters into <group>.retry (audited)",
        description=(
            "Write the selected dead letters into <group>.retry: key, value and original headers"
            " intact, dead-letter headers removed, replay headers (id, time, operator) added."
            " Selectors combine: offsets/ranges are alternatives, the filters must all hold."
            " Every replay, dry runs included, is recorded on the audit topic (`dlq audit`)."
        ),
        epilog=EPILOG,
        formatter_class=fmt,
    )
    replay.add_argument("group")
    replay.add_argument(
        "--offset", action="append", metavar="P:O", help="this dead letter (repeatable)"
    )
    replay.add_argument(
        "--offsets", action="append", metavar="P:A-B", help="offsets A to B of partition P"
    )
    _filters(replay, since_help="failed at or after T")
    replay.add_argument("--all", action="store_true", help="every dead letter of the group")
    replay.add_argument(
        "--dry-run", action="store_true", help="show and audit what would go; write nothing"
    )
    replay.add_argument("--rate", metavar="N/s", help="at most N records per second")
    replay.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    replay.add_argument("--operator", help="who replays (default: the OS user)")
    replay.set_defaults(run=replay_command)

    audit = sub.add_parser(
        "audit", help="past replays, oldest first", epilog=EPILOG, formatter_class=fmt
    )
    audit.add_argument("group", nargs="?", help="only this group's replays")
    audit.add_argument("--limit", type=int, metavar="N", help="the N latest only")
    audit.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    audit.set_defaults(run=audit_command)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    kafka: KafkaSettings | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    raw_stdout: BinaryIO | None = None,
) -> int:
    """Run `dlq`; returns the exit code. Called bare, it is the console script."""
    if argv is None:
        # Only the real command configures logging: in-process callers keep theirs.
        from backbone.logging import configure_logging

        level = os.environ.get("LOG_LEVEL", "WARNING")
        configure_logging("dlq", LogSettings(level=level))
        if level.upper() != "DEBUG":
            # aiokafka logs every refused connection; the operator gets one clear line instead.
            logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else BAD_INPUT
    err = Console(file=stderr or sys.stderr, highlight=False, soft_wrap=True)
    try:
        ctx = Context(
            kafka=kafka or KafkaSettings(),
            out=_console(stdout or sys.stdout),
            err=err,
            raw_out=raw_stdout,
        )
        run: Command = args.run
        return asyncio.run(run(ctx, args))
    except DlqError as exc:
        err.print(Text(printable(f"dlq: {exc}")))
        return exc.exit_code
    except ValidationError as exc:
        err.print(Text(printable(f"dlq: bad KAFKA_* setting: {exc}")))
        return BAD_INPUT
    except KafkaError as exc:
        err.print(Text(printable(f"dlq: broker error: {type(exc).__name__}: {exc}")))
        return BROKER_FAILED
    except KeyboardInterrupt:
        err.print("dlq: interrupted")
        return 130


def _console(file: TextIO) -> Console:
    console = Console(file=file, highlight=False)
    if not console.is_terminal:
        # Piped into a file or a pager: do not squeeze tables into 80 columns.
        console = Console(file=file, highlight=False, width=200)
    return console


if __name__ == "__main__":
    sys.exit(main())
