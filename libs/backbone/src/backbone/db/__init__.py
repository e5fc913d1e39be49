"""PostgreSQL for every service: a pooled async engine, the unit of work, the inbox and the outbox.

A use case runs in a `SqlUnitOfWork` (explicit `commit()`, rollback on exit); a consumer claims
each event in the inbox (`claim`, `claim_many`) in the same transaction as its state change, and a
fact leaves through the outbox (`enqueue`, `add_all`), published by the `OutboxRelay` under
`supervise`. `Pruner` deletes what is past its retention; `requeue_since` puts published rows back
for the relay; `run_migrations_online` and `upgrade` run a service's Alembic migrations. A batch
path's hot statements run as plain SQL on the session's psycopg connection (`driver_fetch_all`,
`driver_execute`, `driver_execute_many`), in the unit of work's transaction.

Names are imported from their modules on first use, so a process that needs only the engine does
not load Alembic or the relay, and `python -m backbone.db.requeue` runs without runpy's warning
about a module imported before it is run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backbone.exports import lazy_exports

if TYPE_CHECKING:
    from backbone.db._columns import timestamp, utc_now
    from backbone.db._driver import (
        driver_connection,
        driver_execute,
        driver_execute_many,
        driver_fetch_all,
        psycopg_connection,
    )
    from backbone.db._engine import database_probe, make_engine, session_factory, sqlalchemy_url
    from backbone.db._inbox import InboxEntry, claim, claim_many
    from backbone.db._migrations import alembic_config, run_migrations_online, upgrade
    from backbone.db._outbox import OutboxEntry, OutboxRecord, add_all, enqueue
    from backbone.db._prune import INBOX, NOTIFICATIONS, SENT_OUTBOX, Pruner, PruneSettings
    from backbone.db._relay import OutboxRelay
    from backbone.db._supervision import OutboxMonitor, serve_until_signalled, supervise
    from backbone.db._unit_of_work import AbstractUnitOfWork, SqlUnitOfWork
    from backbone.db.requeue import requeue_since

# Each public name's module, imported on first use (see the docstring). The modules are private
# but `requeue`, a command (`python -m backbone.db.requeue`). No public name may be a submodule's
# name: importing that submodule would set the package attribute to the module.
_MODULES = {
    "_columns": ("timestamp", "utc_now"),
    "_driver": (
        "driver_connection",
        "driver_execute",
        "driver_execute_many",
        "driver_fetch_all",
        "psycopg_connection",
    ),
    "_engine": ("database_probe", "make_engine", "session_factory", "sqlalchemy_url"),
    "_inbox": ("InboxEntry", "claim", "claim_many"),
    "_migrations": ("alembic_config", "run_migrations_online", "upgrade"),
    "_outbox": ("OutboxEntry", "OutboxRecord", "add_all", "enqueue"),
    "_prune": ("INBOX", "NOTIFICATIONS", "SENT_OUTBOX", "PruneSettings", "Pruner"),
    "_relay": ("OutboxRelay",),
    "requeue": ("requeue_since",),
    "_supervision": ("OutboxMonitor", "serve_until_signalled", "supervise"),
    "_unit_of_work": ("AbstractUnitOfWork", "SqlUnitOfWork"),
}

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
    "driver_connection",
    "driver_execute",
    "driver_execute_many",
    "driver_fetch_all",
    "enqueue",
    "make_engine",
    "psycopg_connection",
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


__getattr__, __dir__ = lazy_exports(__name__, _MODULES, __all__)
