"""`python -m backbone.db.requeue --since 1h`: hand outbox rows sent since a time back to the relay.

For the day a broker loses what it had acknowledged (an in-memory broker restarted, a topic
recreated): the rows go out again. Nothing doubles where the broker still holds them, since the
relay first recognises rows already on their topic, and consumers are idempotent by event id.
Run it with the service's own DATABASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from backbone.db._engine import make_engine
from backbone.db._outbox import OutboxEntry
from backbone.dlq import TIME_HELP, DlqError, parse_time
from backbone.logging import configure_logging, get_logger
from backbone.settings import DatabaseSettings

log = get_logger(__name__)


async def requeue_since(
    engine: AsyncEngine, since: datetime, *, topic: str | None = None, dry_run: bool = False
) -> int:
    """Mark rows sent at or after `since` (of `topic`, if given) unsent; returns how many."""
    condition = col(OutboxEntry.sent_at) >= since
    if topic is not None:
        condition = condition & (col(OutboxEntry.topic) == topic)
    async with engine.begin() as conn:
        if dry_run:
            count = await conn.scalar(select(func.count()).where(condition))
        else:
            result = await conn.execute(update(OutboxEntry).where(condition).values(sent_at=None))
            count = result.rowcount
    log.warning(
        "outbox.requeued", since=since.isoformat(), topic=topic, count=count, dry_run=dry_run
    )
    return int(count or 0)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m backbone.db.requeue", description=__doc__)
    parser.add_argument("--since", required=True, help=f"rows sent since: {TIME_HELP}")
    parser.add_argument("--topic", help="only rows of this topic")
    parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
    args = parser.parse_args(argv)
    try:
        since = parse_time(args.since)
    except DlqError as exc:
        parser.error(str(exc))
    configure_logging("outbox-requeue")

    async def run() -> int:
        engine = make_engine(DatabaseSettings(), application_name="outbox-requeue")
        try:
            return await requeue_since(engine, since, topic=args.topic, dry_run=args.dry_run)
        finally:
            await engine.dispose()

    count = asyncio.run(run())
    verb = "would go" if args.dry_run else "go"
    print(f"{count} outbox rows {verb} out again")
    return 0


if __name__ == "__main__":
    sys.exit(main())
