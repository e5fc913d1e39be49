"""`python -m reservation reconcile --since 24h [--dry-run]`: compare, report, repair, recheck.

Repairs as the worker's scheduled pass does (service_layer.scheduled_reconcile): republishes
events never applied, and applies paid sessions left unsettled as their `completed` event.

Exit codes: 0 nothing (left) to repair; 1 mismatches remain (or, with --dry-run, were found);
2 the run itself failed (Stripe, broker or database unreachable).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time

from rich.console import Console
from rich.table import Table

from backbone.kafka import BrokerUnavailable
from backbone.logging import configure_logging, get_logger
from reservation.adapters.stripe_replay import replay_record
from reservation.bootstrap import build
from reservation.service_layer.reconcile import Mismatch, compare, new_run_id
from reservation.service_layer.scheduled_reconcile import settle_from_stripe
from reservation.settings import Settings, get_settings

log = get_logger(__name__)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
STRIPE_EVENT_RETENTION_S = 30 * 86400


def parse_window(text: str) -> int:
    """'90m', '24h', '7d' as seconds (Stripe keeps events 30 days, so no more than that)."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a window like 24h or 7d: {text!r}")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if not 0 < seconds <= STRIPE_EVENT_RETENTION_S:
        raise argparse.ArgumentTypeError("the window must be within Stripe's 30 days of events")
    return seconds


def render(mismatches: list[Mismatch], console: Console, title: str) -> None:
    """The mismatch table."""
    table = Table(title=title)
    for column in ("kind", "session", "reservations", "ours", "Stripe says", "event"):
        table.add_column(column)
    for m in mismatches:
        table.add_row(
            m.kind,
            m.session_id,
            "\n".join(m.reservation_ids) or "-",
            m.ours,
            m.stripe_says,
            m.event_id or "-",
        )
    console.print(table)


async def reconcile(
    settings: Settings,
    window_s: int,
    *,
    dry_run: bool,
    wait_s: float,
    console: Console | None = None,
) -> int:
    """One run; returns the exit code."""
    console = console or Console()
    container = build(settings, application_name="reservation-reconcile")
    gateway = container.stripe
    since = int(time.time()) - window_s
    consumer = settings.consumer_group
    try:
        report = await compare(container.uow(), gateway, consumer, since)
        render(report.mismatches, console, f"{len(report.mismatches)} mismatch(es)")
        if dry_run or not report.mismatches:
            return 1 if report.mismatches else 0
        if report.replayable:
            run_id = new_run_id()
            producer = container.producer(run_id)
            try:
                await producer.send_many(replay_record(e, run_id) for e in report.replayable)
            finally:
                await producer.stop()
            console.print(f"republished {len(report.replayable)} event(s) to stripe.events")
        if report.unsettled_sessions:
            settled = await settle_from_stripe(container.payments, report)
            console.print(f"applied {settled} paid session(s) as Stripe's completed event")
        deadline = time.monotonic() + wait_s
        while True:
            report = await compare(container.uow(), gateway, consumer, since)
            if not report.mismatches or time.monotonic() >= deadline:
                break
            await asyncio.sleep(1.0)
        render(report.mismatches, console, f"{len(report.mismatches)} mismatch(es) remain")
        return 1 if report.mismatches else 0
    except BrokerUnavailable as exc:
        console.print(f"[red]the broker is unavailable: {exc}")
        return 2
    finally:
        await container.close()


def main(argv: list[str]) -> int:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(prog="python -m reservation reconcile")
    parser.add_argument("--since", type=parse_window, default=parse_window("24h"))
    parser.add_argument("--dry-run", action="store_true", help="report only, republish nothing")
    parser.add_argument(
        "--wait", type=float, default=None, help="seconds to wait for repairs (default: settings)"
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    settings.refuse_unsafe(stripe=True, auth=False)
    configure_logging("reservation-reconcile", settings.log)
    wait = settings.reconcile_wait_s if args.wait is None else args.wait
    try:
        return asyncio.run(reconcile(settings, args.since, dry_run=args.dry_run, wait_s=wait))
    except Exception as exc:
        log.error("reconcile.failed", error=str(exc), error_class=type(exc).__name__)
        return 2
