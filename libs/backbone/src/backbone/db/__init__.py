"""PostgreSQL for every service: a pooled async engine, the unit of work, the inbox and the outbox.

A use case runs in a `SqlUnitOfWork` (explicit `commit()`, rollback on exit); a consumer claims
each event in the inbox (`claim`, `claim_many`) in the same transaction as its state change, and a
fact leaves through the outbox (`enqueue`, `add_all`), published by the `OutboxRelay` under
`supervise`. `Pruner` deletes what is past its retention; `requeue_since` puts published rows back
for the relay; `run_migrations_online` and `upgrade` run a service's Alembic migrations.
"""

from typing import TYPE_CHECKING, Any

from backbone.db.columns import timestamp, utc_now
from backbone.db.engine import database_probe, make_engine, session_factory, sqlalchemy_url
from backbone.db.inbox import InboxEntry, claim, claim_many
from backbone.db.migrations import alembic_config, run_migrations_online, upgrade
from backbone.db.outbox import OutboxEntry, OutboxRecord, add_all, enqueue
from backbone.db.prune import INBOX, NOTIFICATIONS, SENT_OUTBOX, Pruner, PruneSettings, prune
from backbone.db.relay import OutboxRelay
from backbone.db.supervision import OutboxMonitor, serve_until_signalled, supervise
from backbone.db.unit_of_work import AbstractUnitOfWork, SqlUnitOfWork

if TYPE_CHECKING:
    from backbone.db.requeue import requeue_since

__all__ = [
    "INBOX",
    "NOTIFICATIONS",
    "SENT_OUTBOX",
    "AbstractUnitOfWork",
    "InboxEntry",
    "OutboxEntry",
    "OutboxMonitor",
    "OutboxRecord",
    "OutboxRelay",
    "PruneSettings",
    "Pruner",
    "SqlUnitOfWork",
    "add_all",
    "alembic_config",
    "claim",
    "claim_many",
    "database_probe",
    "enqueue",
    "make_engine",
    "prune",
    "requeue_since",
    "run_migrations_online",
    "serve_until_signalled",
    "session_factory",
    "sqlalchemy_url",
    "supervise",
    "timestamp",
    "upgrade",
    "utc_now",
]


def __getattr__(name: str) -> Any:
    # backbone.db.requeue also runs as `python -m backbone.db.requeue`: imported here eagerly,
    # it would be in sys.modules before runpy executes it, which runpy warns about.
    if name == "requeue_since":
        from backbone.db import requeue

        return requeue.requeue_since
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
