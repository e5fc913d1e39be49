"""The outbox relay: publishes committed outbox rows to Kafka in order, each exactly once.

Exactly once, without broker transactions: one relay is active at a time (a PostgreSQL advisory
lock), rows go out in id order with an `outbox-id` header, and before publishing anything (at
start and after any failed send) the relay reads the tail of each target partition and marks as
sent the rows it finds there already. So a relay killed between the broker's acknowledgement and
its own commit does not publish those rows a second time.

Idle, it backs off: after a short batch it pauses `idle_interval_s` (50 ms) while rows keep
coming, and once none came for `idle_after_s` (2 s) the pause doubles with every empty poll up
to `idle_max_interval_s` (0.5 s); the first row found brings it back to 50 ms. Under load
nothing changes; at rest each relay polls twice a second instead of twenty times (issue 20's
idle cost), and the first fact after a quiet spell waits at most `idle_max_interval_s`. A writer
in the same process may call `wake()` after its commit to cut the pause short.

Outages are waited out: a PostgreSQL or broker failure (backbone.kafka.classify) drops the lock
and its connection, backs off (capped, with jitter, logged per step) and starts over, lock and
reconciliation included. Rows are read and marked on the connection that holds the lock, so a
database restart, which releases the lock, cannot go unnoticed while a second relay takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlmodel import col

from backbone.db._driver import driver_execute, driver_fetch_all
from backbone.db._engine import session_factory
from backbone.db._outbox import OutboxEntry
from backbone.db._prune import SENT_OUTBOX, Pruner, PruneSettings
from backbone.kafka import (
    OutgoingRecord,
    Producer,
    TransientWait,
    classify,
    high_watermarks,
    partitions_of,
    read_between,
    reader,
)
from backbone.logging import get_logger
from backbone.settings import KafkaSettings, RetrySettings
from contracts import headers as h

log = get_logger(__name__)

# The publishing loop's two statements, on the lock connection's psycopg connection (backbone.db's
# driver statements): rows as tuples instead of ORM objects, one array parameter for the ids.
_UNSENT = (
    "SELECT id, created_at, topic, key, value, headers FROM outbox WHERE sent_at IS NULL"
    " ORDER BY id LIMIT %(limit)s FOR UPDATE"
)
_MARK_SENT = "UPDATE outbox SET sent_at = %(now)s WHERE id = ANY(CAST(%(ids)s AS bigint[]))"


class OutboxRelay:
    """Moves rows of one database's outbox to Kafka; `source` names that outbox in headers."""

    def __init__(
        self,
        engine: AsyncEngine,
        producer: Producer,
        kafka: KafkaSettings,
        *,
        source: str,
        batch_size: int = 200,
        idle_interval_s: float = 0.05,
        idle_max_interval_s: float = 0.5,
        idle_after_s: float = 2.0,
        failure_backoff_s: float = 1.0,
        prune: PruneSettings | None = None,
        retry: RetrySettings | None = None,
        blocks_readiness: bool = True,
    ) -> None:
        self._engine = engine
        self._sessions = session_factory(engine)
        self._producer = producer
        self._kafka = kafka
        self.source = source
        self._batch_size = batch_size
        self._idle_interval_s = idle_interval_s
        self._idle_max_interval_s = max(idle_max_interval_s, idle_interval_s)
        self._idle_after_s = idle_after_s
        self._wakeup = asyncio.Event()
        self._failure_backoff_s = failure_backoff_s
        self._retry = retry or RetrySettings(transient_backoff_initial_s=failure_backoff_s)
        # A relay beside an API may wait for the broker without taking the API out of service.
        self.blocks_readiness = blocks_readiness
        self._conn: AsyncConnection | None = None  # holds the lock while active
        self._wait: TransientWait | None = None  # the outage being waited out, if any
        self._stopping = asyncio.Event()
        self.active = asyncio.Event()
        self.published = 0
        # The active relay also deletes sent rows past the retention (PRUNE_*), when idle.
        self.pruner = Pruner(engine, [SENT_OUTBOX], prune)

    def stop(self) -> None:
        """Finish the batch in hand and return from `run`."""
        self._stopping.set()
        self._wakeup.set()

    def wake(self) -> None:
        """Look for rows now instead of at the end of the idle pause (after a commit that added
        some, in the same process); harmless at any time."""
        self._wakeup.set()

    def outbox_id(self, row_id: int, created_at: datetime) -> str:
        """The header value naming one row of this outbox on the topic.

        The creation time is part of it: ids start again at 1 in a recreated database, and a
        row must never be taken for an older namesake still on the topic.
        """
        return f"{self.source}/{row_id}@{int(created_at.timestamp() * 1_000_000)}"

    @property
    def stopping(self) -> bool:
        """Whether `stop()` was called."""
        return self._stopping.is_set()

    async def run(self) -> None:
        """Wait to become the active relay, then publish until stopped; outages are waited out
        (a failure that is not one is raised, for the supervisor to restart the relay)."""
        try:
            while not self._stopping.is_set():
                try:
                    await self._hold_lock_and_publish()
                    return
                except Exception as exc:
                    failure = classify(exc)
                    if not failure.transient:
                        raise
                    self.active.clear()
                    if self._wait is None:
                        self._wait = TransientWait(
                            f"relay:{self.source}",
                            self._retry,
                            blocks_readiness=self.blocks_readiness,
                        )
                    await self._wait.pause(failure, exc)
        finally:
            self.active.clear()
            self._recovered()

    def _recovered(self) -> None:
        if self._wait is not None:
            self._wait.end()
            self._wait = None

    async def _hold_lock_and_publish(self) -> None:
        lock_key = zlib.crc32(f"outbox-relay:{self.source}".encode())
        lock_conn = await self._engine.connect()
        locked = standby = False
        try:
            while not self._stopping.is_set():
                locked = bool(
                    await lock_conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key})
                )
                await lock_conn.commit()
                if locked:
                    break
                if not standby:  # once per wait: another relay holds the lock
                    log.info("relay.standby", source=self.source)
                    standby = True
                await self._pause(1.0)
            else:
                return
            log.info("relay.active", source=self.source)
            self._conn = lock_conn
            self.active.set()
            self._recovered()
            await self._publish_loop()
        finally:
            self._conn = None
            await self._release(lock_conn, lock_key if locked else None)

    async def _release(self, conn: AsyncConnection, lock_key: int | None) -> None:
        """Unlock and close; a connection that cannot unlock is discarded, never pooled with the
        lock still held."""
        try:
            async with asyncio.timeout(5):
                if lock_key is not None:
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key})
                    await conn.commit()
                await conn.close()
        except Exception:
            with contextlib.suppress(Exception):
                await conn.invalidate()
                await conn.close()

    async def _publish_loop(self) -> None:
        await self.reconcile()
        pause, last_row = self._idle_interval_s, time.monotonic()
        while not self._stopping.is_set():
            self._wakeup.clear()  # a wake() from here on ends the next pause early
            count = await self.publish_batch()
            if count:
                pause, last_row = self._idle_interval_s, time.monotonic()
            if count < self._batch_size:
                await self.pruner.maybe_run()
                await self._idle(pause)
                if time.monotonic() - last_row >= self._idle_after_s:
                    pause = min(pause * 2, self._idle_max_interval_s)

    async def _idle(self, seconds: float) -> None:
        """Pause between polls; `wake()` or `stop()` ends it early."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=seconds)

    def _session(self) -> AsyncSession:
        """A session on the lock's connection while active, else on the pool (tests, requeue)."""
        if self._conn is not None:
            return AsyncSession(bind=self._conn, expire_on_commit=False)
        return self._sessions()

    async def publish_batch(self) -> int:
        """Publish the oldest unsent rows and mark them sent; returns how many."""
        async with self._session() as session, session.begin():
            rows = await driver_fetch_all(session, _UNSENT, {"limit": self._batch_size})
            if not rows:
                return 0
            await self._producer.send_many([self._record(row) for row in rows])
            await driver_execute(
                session, _MARK_SENT, {"ids": [row[0] for row in rows], "now": datetime.now(UTC)}
            )
        self.published += len(rows)
        return len(rows)

    def _record(self, row: tuple[Any, ...]) -> OutgoingRecord:
        """The record of an `_UNSENT` row, its outbox id among the headers."""
        row_id, created_at, topic, key, value, headers = row
        encoded = [(k, v.encode()) for k, v in headers]
        encoded.append((h.OUTBOX_ID, self.outbox_id(row_id, created_at).encode()))
        return OutgoingRecord(topic, value, key, encoded)

    async def reconcile(self) -> int:
        """Mark as sent the unsent rows already on their topics; returns how many it found.

        Only the oldest `batch_size` unsent rows can have been in flight when a relay died, and
        each went to the tail of its partition: those rows against those tails is enough.
        """
        async with self._session() as session:
            candidates = (
                await session.execute(
                    select(col(OutboxEntry.id), col(OutboxEntry.created_at), col(OutboxEntry.topic))
                    .where(col(OutboxEntry.sent_at).is_(None))
                    .order_by(col(OutboxEntry.id))
                    .limit(self._batch_size)
                )
            ).all()
        if not candidates:
            return 0
        on_topics = await self._outbox_ids_on(sorted({topic for _, _, topic in candidates}))
        published = [
            row_id
            for row_id, created_at, _ in candidates
            if row_id is not None and self.outbox_id(row_id, created_at) in on_topics
        ]
        if not published:
            return 0
        async with self._session() as session, session.begin():
            await session.execute(
                update(OutboxEntry)
                .where(col(OutboxEntry.id).in_(published))
                .values(sent_at=datetime.now(UTC))
            )
        log.warning("relay.recovered_published_rows", count=len(published))
        return len(published)

    async def _outbox_ids_on(self, topics: Sequence[str]) -> set[str]:
        """Outbox ids of ours in the last `batch_size` records of every partition of `topics`."""
        prefix = f"{self.source}/"
        consumer = reader(self._kafka, f"{self.source}-relay-reconcile")
        await consumer.start()
        try:
            tps = [tp for topic in topics for tp in await partitions_of(consumer, topic)]
            marks = await high_watermarks(consumer, tps)
            bounds = {tp: (max(hw - self._batch_size, 0), hw) for tp, hw in marks.items()}
            messages = await read_between(consumer, bounds)
        finally:
            await consumer.stop()
        values = (message.header(h.OUTBOX_ID) for message in messages)
        return {value for value in values if value and value.startswith(prefix)}

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
