"""Start-up repair for the in-memory broker: what the previous run's outboxes sent goes out again.

PostgreSQL keeps its data between two `make run`s; the embedded broker does not. Outbox rows the
previous run marked sent may never have been consumed (a notifier still catching up, a stack
stopped mid-flow), and their records are gone. Before the relays start, every row sent since the
previous run started is handed back to them (`backbone.db.requeue`); consumers dedupe by event
id (inbox), so what was consumed already is not acted on twice.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import SecretStr
from sqlalchemy.exc import ProgrammingError

from backbone.db import make_engine, requeue_since
from backbone.settings import DatabaseSettings


async def requeue_previous_run(databases: dict[str, str], since: datetime) -> dict[str, int]:
    """Per database with an outbox, how many rows sent since `since` go out again."""
    counts: dict[str, int] = {}
    for name, url in databases.items():
        engine = make_engine(DatabaseSettings(url=SecretStr(url)), application_name="devstack")
        try:
            counts[name] = await requeue_since(engine, since)
        except ProgrammingError:
            pass  # no outbox table (never migrated, or a service without an outbox)
        finally:
            await engine.dispose()
    return counts
