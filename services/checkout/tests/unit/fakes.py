"""In-memory stand-ins for the checkout ports: the use cases' decisions, tested in milliseconds.

`FakeDatabase` holds what is committed; each `FakeUnitOfWork` it hands out works on a copy and
writes its changes back only on `commit()`, so "nothing was recorded" means what it says. The
fake Stripe keeps sessions by idempotency key as Stripe does (same key and parameters: the same
session; other parameters: a conflict) and can be told to fail the next calls. PostgreSQL, the
real Stripe client and the reservation API are covered by the integration tests.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from checkout.domain.model import Beat, PricedReservation
from checkout.domain.sessions import CheckoutAttempt, CheckoutSession
from checkout.service_layer.checkout import CheckoutService
from checkout.service_layer.errors import (
    ReservationRefused,
    StripeIdempotencyConflict,
    StripeRefused,
)
from checkout.service_layer.ports import CheckoutPolicy, StripeSession
from checkout.service_layer.supersede import Superseder
from checkout.service_layer.unit_of_work import CheckoutUnitOfWork

NOW = datetime(2026, 3, 14, 11, 0, tzinfo=UTC)
CATALOG = (
    Beat("beat_midnight_tape", "Midnight Tape", 2999, "eur"),
    Beat("beat_neon_drift", "Neon Drift", 3499, "eur"),
    Beat("beat_low_tide", "Low Tide", 1999, "eur"),
    Beat("beat_gold_rush", "Gold Rush", 4999, "eur"),
)
POLICY = CheckoutPolicy(
    success_url="https://studio.test/checkout/success?session_id={CHECKOUT_SESSION_ID}",
    cancel_url="https://studio.test/checkout?cancelled=1",
    min_lifetime=timedelta(minutes=31),
    beats_lifetime=timedelta(hours=1),
    status_ttl=timedelta(seconds=5),
)


class Clock:
    """The use cases' clock, moved by the test."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        self.now += delta


@dataclass
class Record:
    """One outbox record, and whether the relay has sent it."""

    topic: str
    value: bytes
    key: bytes
    headers: list[tuple[str, str]]
    sent: bool = False


@dataclass
class FakeDatabase:
    """The committed state of the checkout database."""

    beats: dict[str, Beat] = field(default_factory=dict)
    inactive: set[str] = field(default_factory=set)
    sessions: dict[str, CheckoutSession] = field(default_factory=dict)
    attempts: dict[str, CheckoutAttempt] = field(default_factory=dict)
    outbox: list[Record] = field(default_factory=list)
    units: list[FakeUnitOfWork] = field(default_factory=list)

    def uow(self) -> FakeUnitOfWork:
        """A new unit of work on this database (the use cases' factory)."""
        unit = FakeUnitOfWork(self)
        self.units.append(unit)
        return unit

    @property
    def commits(self) -> int:
        """How many units of work committed."""
        return sum(1 for u in self.units if u.committed)

    def attempt_states(self) -> list[tuple[int, str]]:
        """(generation, state) of every stored attempt, oldest first."""
        return sorted((a.generation, a.state) for a in self.attempts.values())

    def relay(self) -> None:
        """The relay published everything in the outbox."""
        for record in self.outbox:
            record.sent = True


class FakeRepository:
    """CheckoutRepository over dicts (one transaction's copy of the database)."""

    def __init__(
        self,
        beats: dict[str, Beat],
        inactive: set[str],
        sessions: dict[str, CheckoutSession],
        attempts: dict[str, CheckoutAttempt],
        outbox: list[Record],
    ) -> None:
        self._beats = beats
        self._inactive = inactive
        self.sessions = sessions
        self.attempts = attempts
        self._outbox = outbox

    async def beats(self, ids: Sequence[str]) -> dict[str, Beat]:
        return {i: self._beats[i] for i in ids if i in self._beats and i not in self._inactive}

    async def active_beats(self) -> list[Beat]:
        on_sale = [b for b in self._beats.values() if b.id not in self._inactive]
        return sorted(on_sale, key=lambda b: (b.price, b.title))

    async def add_session(self, session: CheckoutSession) -> bool:
        if session.session_id in self.sessions:
            return False
        self.sessions[session.session_id] = copy.deepcopy(session)
        return True

    async def get(self, session_id: str) -> CheckoutSession | None:
        found = self.sessions.get(session_id)
        return copy.deepcopy(found)

    async def for_items(self, user_id: str, fingerprint: str) -> list[CheckoutSession]:
        mine = [
            copy.deepcopy(s)
            for s in self.sessions.values()
            if s.user_id == user_id and s.fingerprint == fingerprint
        ]
        return sorted(mine, key=lambda s: s.generation, reverse=True)

    async def set_status(
        self, session_id: str, status: str, payment_status: str, now: datetime
    ) -> None:
        if session_id in self.sessions:
            self.sessions[session_id] = replace(
                self.sessions[session_id],
                status=status,
                payment_status=payment_status,
                updated_at=now,
            )

    async def latest_attempt(self, user_id: str, fingerprint: str) -> CheckoutAttempt | None:
        mine = [
            a
            for a in self.attempts.values()
            if (a.user_id, a.fingerprint) == (user_id, fingerprint)
        ]
        newest = max(mine, key=lambda a: (a.generation, a.created_at), default=None)
        return copy.deepcopy(newest)

    async def add_attempt(self, attempt: CheckoutAttempt) -> CheckoutAttempt:
        self.attempts.setdefault(attempt.idempotency_key, copy.deepcopy(attempt))
        return copy.deepcopy(self.attempts[attempt.idempotency_key])

    async def set_attempt_state(
        self, key: str, state: str, now: datetime, session_id: str | None = None
    ) -> None:
        if key not in self.attempts:
            return
        attempt = replace(self.attempts[key], state=state, updated_at=now)
        if session_id is not None:
            attempt.session_id = session_id
        self.attempts[key] = attempt

    async def supersede(self, row: CheckoutSession, now: datetime) -> list[str]:
        marked = []
        for other in self.sessions.values():
            same_items = other.fingerprint == row.fingerprint or bool(
                set(other.reservation_ids) & set(row.reservation_ids)
            )
            if (
                other.user_id == row.user_id
                and other.status == "open"
                and other.session_id != row.session_id
                and same_items
            ):
                marked.append(other.session_id)
        for session_id in marked:
            self.sessions[session_id] = replace(
                self.sessions[session_id],
                expire_pending=True,
                superseded_by=row.session_id,
                updated_at=now,
            )
        return marked

    async def fact_sent(self, session_id: str) -> bool:
        return not any(r.key == session_id.encode() and not r.sent for r in self._outbox)

    async def pending_expiries(self, limit: int, marked_before: datetime) -> list[str]:
        marked = [
            s for s in self.sessions.values() if s.expire_pending and s.updated_at < marked_before
        ]
        return [s.session_id for s in sorted(marked, key=lambda s: s.updated_at)][:limit]

    async def expiry_done(
        self, session_id: str, status: str, payment_status: str, now: datetime
    ) -> None:
        if session_id in self.sessions:
            self.sessions[session_id] = replace(
                self.sessions[session_id],
                status=status,
                payment_status=payment_status,
                expire_pending=False,
                updated_at=now,
            )


class FakeUnitOfWork(CheckoutUnitOfWork):
    """A transaction on a copy of the database: `commit()` writes what changed back."""

    repo: FakeRepository

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database
        self.published: list[Record] = []
        self.rolled_back = False

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        db = self._database
        self._read = (copy.deepcopy(db.sessions), copy.deepcopy(db.attempts))
        self.published = []
        self.repo = FakeRepository(
            db.beats,
            db.inactive,
            copy.deepcopy(db.sessions),
            copy.deepcopy(db.attempts),
            db.outbox,
        )
        return self

    def publish(self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, str]]) -> None:
        self.published.append(Record(topic, value, key, headers))

    async def _commit(self) -> None:
        # Only what this transaction changed is written back (row by row, as PostgreSQL would).
        db = self._database
        read_sessions, read_attempts = self._read
        for key, session in self.repo.sessions.items():
            if read_sessions.get(key) != session:
                db.sessions[key] = session
        for key, attempt in self.repo.attempts.items():
            if read_attempts.get(key) != attempt:
                db.attempts[key] = attempt
        db.outbox.extend(self.published)

    async def rollback(self) -> None:
        self.rolled_back = True


class FakeMetrics:
    """CheckoutMetrics that remembers what was counted."""

    def __init__(self) -> None:
        self.sessions: list[tuple[str, str]] = []
        self.superseded_outcomes: list[str] = []

    def session_answered(self, checkout_type: str, outcome: str) -> None:
        self.sessions.append((checkout_type, outcome))

    def superseded(self, outcome: str) -> None:
        self.superseded_outcomes.append(outcome)


@dataclass(frozen=True)
class Fault:
    """A failure the fake Stripe answers instead of (or after) doing the call."""

    exc: Exception
    after_execute: bool
    meanwhile: Callable[[], None] | None


@dataclass
class Created:
    """What the fake Stripe keeps of a create: its parameters and session."""

    params: dict[str, Any]
    session_id: str


class FakeStripe:
    """PaymentGateway with Stripe's idempotency rules, and failures queued per operation.

    `fail("create", exc)` makes the next create raise `exc` (before Stripe does anything);
    `fail("create", exc, after_execute=True)` makes the session and then raises, as a lost
    answer or a stored 5xx does.
    """

    def __init__(self, clock: Callable[[], datetime] = lambda: NOW) -> None:
        self._clock = clock
        self._ids = itertools.count(1)
        self.sessions: dict[str, StripeSession] = {}
        self.keys: dict[str, Created] = {}
        self.calls: list[tuple[str, str]] = []
        self.created_with: list[tuple[str, dict[str, Any]]] = []
        self._faults: dict[str, list[Fault]] = {}

    def fail(
        self,
        op: str,
        exc: Exception,
        *,
        times: int = 1,
        after_execute: bool = False,
        meanwhile: Callable[[], None] | None = None,
    ) -> None:
        """Make the next `times` calls of `op` (create, retrieve, expire) raise `exc`; run
        `meanwhile` first (what a concurrent request does while this one waits)."""
        fault = Fault(exc, after_execute, meanwhile)
        self._faults.setdefault(op, []).extend([fault] * times)

    def end(self, session_id: str, status: str = "expired", payment_status: str = "unpaid") -> None:
        """The session ended at Stripe (expired, or paid: complete)."""
        self.sessions[session_id] = replace(
            self.sessions[session_id], status=status, payment_status=payment_status
        )

    def count(self, op: str) -> int:
        """How many calls of `op` reached Stripe."""
        return sum(1 for o, _ in self.calls if o == op)

    def _fault(self, op: str) -> Fault | None:
        queued = self._faults.get(op)
        fault = queued.pop(0) if queued else None
        if fault is not None and fault.meanwhile is not None:
            fault.meanwhile()
        return fault

    async def create_session(self, params: dict[str, Any], idempotency_key: str) -> StripeSession:
        self.calls.append(("create", idempotency_key))
        self.created_with.append((idempotency_key, copy.deepcopy(params)))
        fault = self._fault("create")
        if fault is not None and not fault.after_execute:
            raise fault.exc
        session = self.make(params, idempotency_key)
        if fault is not None:
            raise fault.exc
        return session

    def make(self, params: dict[str, Any], idempotency_key: str) -> StripeSession:
        """The session of this key: made now, or the one made before under the same parameters."""
        known = self.keys.get(idempotency_key)
        if known is None:
            session = self._make(params)
            self.keys[idempotency_key] = Created(copy.deepcopy(params), session.id)
            return session
        if known.params != params:
            raise StripeIdempotencyConflict("key reused with other parameters", in_use=False)
        return self.sessions[known.session_id]

    def _make(self, params: dict[str, Any]) -> StripeSession:
        number = next(self._ids)
        session_id = f"cs_test_{number}"
        amount = sum(
            item["quantity"] * item["price_data"]["unit_amount"] for item in params["line_items"]
        )
        session = StripeSession(
            id=session_id,
            url=f"https://checkout.stripe.test/{session_id}",
            status="open",
            payment_status="unpaid",
            amount_total=amount,
            currency=params["line_items"][0]["price_data"]["currency"],
            expires_at=datetime.fromtimestamp(params["expires_at"], UTC),
            created=self._clock().replace(microsecond=0),
        )
        self.sessions[session_id] = session
        return session

    async def retrieve_session(self, session_id: str) -> StripeSession:
        self.calls.append(("retrieve", session_id))
        fault = self._fault("retrieve")
        if fault is not None:
            raise fault.exc
        return self.sessions[session_id]

    async def expire_session(self, session_id: str) -> StripeSession:
        self.calls.append(("expire", session_id))
        fault = self._fault("expire")
        if fault is not None:
            raise fault.exc
        session = self.sessions[session_id]
        if session.status != "open":
            raise StripeRefused(400, "checkout_session_not_open", "the session is not open")
        self.end(session_id, "expired")
        return self.sessions[session_id]


@dataclass
class Booked:
    """A reservation the fake reservation service knows: its owner, price and state."""

    owner: str
    priced: PricedReservation
    status: str = "pending"


class FakeReservations:
    """ReservationSource: the reservation service's rule (exists, the caller's, payable now).

    The caller is identified by the token, which here is simply the user id.
    """

    def __init__(self) -> None:
        self.booked: dict[str, Booked] = {}
        self.calls: list[tuple[list[str], str, str | None]] = []
        self.failure: Exception | None = None

    def book(
        self,
        owner: str,
        reservation_id: str,
        amount: int = 15000,
        *,
        hold: timedelta = timedelta(hours=2),
        now: datetime = NOW,
        currency: str = "eur",
    ) -> PricedReservation:
        """A pending reservation of `owner`, held for `hold` from `now`."""
        priced = PricedReservation(
            reservation_id, f"Mixing session {reservation_id}", amount, currency, now + hold
        )
        self.booked[reservation_id] = Booked(owner, priced)
        return priced

    async def payable(
        self, reservation_ids: Sequence[str], token: str, request_id: str | None
    ) -> list[PricedReservation]:
        self.calls.append((list(reservation_ids), token, request_id))
        if self.failure is not None:
            raise self.failure
        found = []
        for reservation_id in reservation_ids:
            booked = self.booked.get(reservation_id)
            if booked is None or booked.owner != token:
                raise ReservationRefused(
                    404,
                    "reservation_not_found",
                    f"reservation {reservation_id} not found",
                    reservation_id,
                )
            if booked.status != "pending":
                raise ReservationRefused(
                    409,
                    "reservation_not_payable",
                    f"reservation {reservation_id} is {booked.status}",
                    reservation_id,
                )
            found.append(booked.priced)
        return found


@dataclass
class FakeApp:
    """The checkout use cases wired to the fakes, as bootstrap wires them to real adapters."""

    db: FakeDatabase
    stripe: FakeStripe
    reservations: FakeReservations
    metrics: FakeMetrics
    clock: Clock
    service: CheckoutService

    @property
    def superseder(self) -> Superseder:
        """The expiry of superseded sessions."""
        return self.service.superseder


def bootstrap(*, fact_wait_s: float = 0.0) -> FakeApp:
    """A CheckoutService on fakes, the development catalog on sale."""
    clock = Clock()
    db = FakeDatabase(beats={b.id: b for b in CATALOG})
    stripe = FakeStripe(clock)
    reservations = FakeReservations()
    metrics = FakeMetrics()
    superseder = Superseder(db.uow, stripe, clock, metrics=metrics, fact_wait_s=fact_wait_s)
    service = CheckoutService(
        uow=db.uow,
        reservations=reservations,
        stripe=stripe,
        policy=POLICY,
        superseder=superseder,
        metrics=metrics,
        clock=clock,
    )
    return FakeApp(db, stripe, reservations, metrics, clock, service)
