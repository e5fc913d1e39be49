"""The refund executor's idle polling (no query while nothing can be due) and the worker's wake
after a batch, on fakes: the executor's rounds against PostgreSQL and Stripe are test_refunds'."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from backbone.db import AbstractUnitOfWork
from backbone.kafka import Message
from contracts import headers as h
from contracts.topics import STRIPE_EVENTS
from reservation.adapters import records
from reservation.service_layer import refund_executor
from reservation.service_layer.observers import NullObserver
from reservation.service_layer.payments import Signal, Unhandled
from reservation.service_layer.ports import Claimed, RefundRetryableError
from reservation.service_layer.refund_executor import RefundExecutor


@dataclass
class FakeRefunds:
    """The refunds table as the executor's round reads it: `due` are claimed once."""

    due: list[Claimed] = field(default_factory=list)
    queries: int = 0
    retried: list[str] = field(default_factory=list)

    async def claim_due(self, limit: int, lease_s: float) -> list[Claimed]:
        self.queries += 1
        claimed, self.due = self.due[:limit], self.due[limit:]
        return claimed

    async def waiting(self) -> tuple[int, float]:
        self.queries += 1
        return len(self.due), 0.0

    async def retry_later(self, key: str, at: Any, error: str) -> None:
        self.retried.append(key)


class FakeUow(AbstractUnitOfWork):
    def __init__(self, refunds: FakeRefunds) -> None:
        self.refunds = refunds

    async def _commit(self) -> None:
        pass

    async def rollback(self) -> None:
        pass


class Unavailable:
    async def refund(self, *args: Any, **kwargs: Any) -> Any:
        raise RefundRetryableError("Stripe is down")

    async def charge_refunds(self, charge_id: str) -> list[dict[str, Any]]:
        raise RefundRetryableError("Stripe is down")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    ticking = Clock()
    monkeypatch.setattr(refund_executor.time, "monotonic", ticking)
    return ticking


def _executor(refunds: FakeRefunds, **kwargs: Any) -> RefundExecutor:
    return RefundExecutor(
        uow=lambda _: FakeUow(refunds),  # a fake in place of the real unit of work
        gateway=Unavailable(),
        observer=NullObserver(),
        idle_poll_s=15.0,
        **kwargs,
    )


def _request(key: str) -> Claimed:
    return Claimed(key, "ours", "pi_1", 1000, "late_payment_slot_taken", 1, None)


async def test_an_idle_executor_looks_once_then_not_until_its_idle_wait_is_over(
    clock: Clock,
) -> None:
    refunds = FakeRefunds()
    executor = _executor(refunds)
    assert await executor.run_due() == 0
    assert refunds.queries == 2  # the first tick looks: one claim, one count
    for _ in range(14):
        clock.now += 1.0
        assert await executor.run_due() == 0
    assert refunds.queries == 2, "an idle tick queries nothing"
    clock.now += 1.0
    await executor.run_due()
    assert refunds.queries == 4


async def test_a_wake_makes_the_next_tick_look(clock: Clock) -> None:
    refunds = FakeRefunds()
    executor = _executor(refunds)
    await executor.run_due()
    refunds.due.append(_request("k1"))
    clock.now += 1.0
    executor.wake()
    assert await executor.run_due() == 1
    assert refunds.retried == ["k1"]


async def test_a_retry_is_looked_at_when_due_not_an_idle_wait_later(clock: Clock) -> None:
    refunds = FakeRefunds(due=[_request("k1")])
    executor = _executor(refunds, backoff_initial_s=2.0, backoff_max_s=4.0)
    assert await executor.run_due() == 1
    queries = refunds.queries
    clock.now += 0.9  # the backoff is 1-2 s (jittered): not due yet
    await executor.run_due()
    assert refunds.queries == queries
    clock.now += 1.2
    await executor.run_due()
    assert refunds.queries > queries


def _stripe_record(value: bytes = b"{}") -> Message:
    return Message(STRIPE_EVENTS, 0, 0, None, value, ((h.STRIPE_EVENT_ID, b"evt_1"),))


class Recorder:
    def __init__(self) -> None:
        self.applied: list[list[Signal]] = []

    async def apply(self, signals: list[Signal]) -> None:
        self.applied.append(signals)


@pytest.mark.parametrize(
    ("decoded", "wakes"),
    [(Unhandled("evt_1", None), False), (object(), True)],
)
async def test_a_batch_that_acted_wakes_the_executor(
    monkeypatch: pytest.MonkeyPatch, decoded: Any, wakes: bool
) -> None:
    monkeypatch.setattr(records, "decode", lambda message: decoded)
    woken: list[bool] = []
    service = Recorder()
    handle_batch = records.make_handler(
        service,  # a recorder in place of PaymentService
        on_applied=lambda: woken.append(True),
    )
    await handle_batch([_stripe_record(), _stripe_record()])
    assert service.applied == [[decoded, decoded]]
    assert woken == ([True] if wakes else [])


async def test_a_failed_round_is_tried_again_at_the_next_tick(clock: Clock) -> None:
    refunds = FakeRefunds()
    executor = _executor(refunds)
    await executor.run_due()
    executor.wake()

    async def database_away(limit: int, lease_s: float) -> list[Claimed]:
        raise ConnectionError("PostgreSQL is away")

    refunds.claim_due = database_away  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await executor.run_due()
    del refunds.claim_due
    clock.now += 1.0
    refunds.due.append(_request("k1"))
    assert await executor.run_due() == 1
