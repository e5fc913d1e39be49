"""Payments to benchmark: reservations written straight into the reservation database, each with
its checkout session already open, and the signed `checkout.session.completed` event paying it.

Seeding by SQL (COPY) instead of the API keeps set-up out of the measurement: 50,000 holds take
seconds. The rows are what the API and a CheckoutSessionCreatedV1 fact would leave: a
`processing` reservation whose current session is recorded as an `open` attempt, and checkout's
record of the session the payment is checked against.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from backbone.kafka import OutgoingRecord
from contracts import stripe as s
from contracts.checkout import ReservationCheckoutMetadata
from contracts.topics import STRIPE_EVENTS
from webhook_ingest.app import _record_headers
from webhook_ingest.event import read_event

# One catalog entry of the development seed (reservation.adapters.migrations.DEV_CATALOG).
SERVICE_ID, SERVICE_NAME, RESOURCE, PRICE, CURRENCY, MINUTES = (
    "mixing",
    "Mixing",
    "control-room",
    15000,
    "eur",
    120,
)
API_VERSION = "2026-10-28.endive"


@dataclass(frozen=True)
class Payment:
    """One reservation and the session that pays it."""

    index: int
    reservation_id: str
    session_id: str
    email: str


@dataclass(frozen=True)
class Batch:
    """A batch of payments of one run; e-mail addresses carry the run's tag."""

    tag: str
    payments: list[Payment]

    def by_email(self) -> dict[str, Payment]:
        """Payments by recipient address (each reservation has its own)."""
        return {p.email: p for p in self.payments}


def new_batch(count: int, label: str) -> Batch:
    """`count` new payments (ids only; nothing written yet)."""
    tag = f"{label}{uuid.uuid4().hex[:6]}"
    payments = [
        Payment(
            index=i,
            reservation_id=str(uuid.uuid4()),
            session_id=f"cs_test_bench_{tag}_{i:06d}",
            email=f"bench-{tag}-{i}@example.com",
        )
        for i in range(count)
    ]
    return Batch(tag, payments)


class _Eras:
    """Where each batch's slots start: one after the other in this process, from a random day.

    Random eras per batch overlapped (the 8x step's 96,000 slots span 22 years): batches of one
    process now follow each other; another process's (a database that outlives a run, with
    --target) start from a day of their own.
    """

    def __init__(self) -> None:
        self._next = datetime(2200, 1, 1, tzinfo=UTC) + timedelta(
            days=random.randint(0, 2_000_000)  # noqa: S311
        )

    def take(self, slots: int) -> datetime:
        era = self._next
        self._next = era + timedelta(minutes=(MINUTES + 1) * slots, days=1)
        return era


_ERAS = _Eras()


def seed(database_url: str, batch: Batch) -> float:
    """Write the batch's held reservations and open attempts; returns the seconds it took.

    Each reservation gets its own two-hour slot far in the future, apart from every other
    batch's (`_Eras`), so the no-overlap exclusion constraint holds.
    """
    started = time.perf_counter()
    now = datetime.now(UTC)
    era = _ERAS.take(len(batch.payments))
    hold = now + timedelta(hours=6)
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY reservations (id, reference, user_id, user_email, service_id, service_name,"
            " resource, starts_at, ends_at, amount, currency, status, hold_expires_at,"
            " created_at, updated_at, current_session_id) FROM STDIN"
        ) as copy:
            for p in batch.payments:
                starts = era + timedelta(minutes=(MINUTES + 1) * p.index)
                copy.write_row(
                    (
                        p.reservation_id,
                        f"B{batch.tag[-6:]}{p.index:07d}"[:16],
                        f"bench-user-{batch.tag}-{p.index}",
                        p.email,
                        SERVICE_ID,
                        SERVICE_NAME,
                        RESOURCE,
                        starts,
                        starts + timedelta(minutes=MINUTES),
                        PRICE,
                        CURRENCY,
                        "processing",
                        hold,
                        now,
                        now,
                        p.session_id,
                    )
                )
        created = now.replace(microsecond=0)
        with cur.copy(
            "COPY payment_attempts (reservation_id, session_id, session_created, stage) FROM STDIN"
        ) as copy:
            for p in batch.payments:
                copy.write_row((p.reservation_id, p.session_id, created, "open"))
        # What checkout's CheckoutSessionCreatedV1 leaves: a payment is checked against it.
        with cur.copy(
            "COPY checkout_session_facts (session_id, amount_total, currency, reservation_ids)"
            " FROM STDIN"
        ) as copy:
            for p in batch.payments:
                copy.write_row((p.session_id, PRICE, CURRENCY, json.dumps([p.reservation_id])))
    return time.perf_counter() - started


def event_body(p: Payment, tag: str) -> bytes:
    """The exact bytes Stripe would send for the completed, paid session of `p`."""
    created = int(time.time())
    metadata = ReservationCheckoutMetadata.model_validate(
        {
            "userId": f"bench-user-{tag}-{p.index}",
            "userEmail": p.email,
            "type": "reservation_payment",
            "reservationIds": p.reservation_id,
            "servicesCount": "1",
            "servicesTotal": str(PRICE),
            "cartCount": "0",
            "cartTotal": "0",
            "orderTotal": str(PRICE),
            "description": f"{SERVICE_NAME} (benchmark)",
        }
    ).to_stripe_metadata()
    event = {
        "id": f"evt_bench_{tag}_{p.index:06d}",
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {
            "object": {
                "id": p.session_id,
                "object": "checkout.session",
                "amount_total": PRICE,
                "currency": CURRENCY,
                "created": created,
                "customer_email": p.email,
                "client_reference_id": None,
                "metadata": metadata,
                "mode": "payment",
                "payment_intent": f"pi_bench_{tag}_{p.index:06d}",
                "payment_status": "paid",
                "status": "complete",
            }
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": s.CHECKOUT_SESSION_COMPLETED,
    }
    # One line (no indent): the load process keeps one body per line.
    return json.dumps(event).encode()


def as_ingested(body: bytes) -> OutgoingRecord:
    """The record webhook-ingest puts on stripe.events for this body: its own key and headers
    (`read_event`, `_record_headers`), without the HTTP round trip."""
    facts = read_event(body)
    headers = _record_headers(facts, uuid.uuid4().hex, time.time())
    return OutgoingRecord(STRIPE_EVENTS, body, facts.key.encode(), headers)


def signature(body: bytes, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header value, as `stripe_emulator.signing` makes it."""
    mac = hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def outcomes(database_url: str, batch: Batch) -> dict[str, tuple[str, float]]:
    """reservation id -> (status, updated_at as a Unix time) for the batch."""
    ids = [p.reservation_id for p in batch.payments]
    out: dict[str, tuple[str, float]] = {}
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        for start in range(0, len(ids), 10_000):
            cur.execute(
                "SELECT id, status, updated_at FROM reservations WHERE id = ANY(%s)",
                (ids[start : start + 10_000],),
            )
            for rid, status, updated in cur:
                out[rid] = (status, updated.timestamp())
    return out


def settled_count(database_url: str, batch: Batch) -> int:
    """How many of the batch's reservations left `processing`."""
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM reservations WHERE user_email LIKE %s AND status <> 'processing'",
            (f"bench-{batch.tag}-%",),
        )
        row = cur.fetchone()
    return int(row[0]) if row else 0


def transactions(database_url: str, batch: Batch) -> int:
    """How many transactions settled the batch's reservations (distinct `xmin`: the transaction
    that last wrote each row), so events per transaction is the worker's mean batch size."""
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(DISTINCT xmin::text) FROM reservations"
            " WHERE user_email LIKE %s AND status <> 'processing'",
            (f"bench-{batch.tag}-%",),
        )
        row = cur.fetchone()
    return int(row[0]) if row else 0


def database_activity(database_url: str) -> dict[str, int]:
    """The server's cumulative write counters (every database): rows inserted, updated and
    deleted, transactions committed, WAL bytes. Differences over a run size PostgreSQL."""
    with psycopg.connect(database_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT sum(tup_inserted), sum(tup_updated), sum(tup_deleted), sum(xact_commit)"
            " FROM pg_stat_database"
        )
        row = cur.fetchone()
        cur.execute("SELECT wal_bytes FROM pg_stat_wal")
        wal = cur.fetchone()
    assert row is not None
    inserted, updated, deleted, commits = (int(v or 0) for v in row)
    return {
        "rows_written": inserted + updated + deleted,
        "commits": commits,
        "wal_bytes": int(wal[0]) if wal else 0,
    }
