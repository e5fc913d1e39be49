"""Outages of the parts themselves, each 30 s, while payments flow: waited out, never dead-lettered.

PostgreSQL stopped then started, PostgreSQL hung (SIGSTOP, then SIGCONT), the SMTP server
answering 451 to every message, the broker hung (SIGSTOP), Stripe's whole API answering 503, and
Stripe's whole API hanging past every client's timeout (each call still carried out, as a
timed-out call at Stripe may be), each for 30 s: far longer than the bounded retry budget of a
message (about 3 s). Payments go on throughout: sessions opened just before the outage are paid
during it (their webhooks reach the broker, the worker must wait for PostgreSQL), and a patient
stream keeps booking and paying (customers try again on a 5xx, also when checkout cannot reach
Stripe). During the Stripe outages late payments arrive too (a hold that ran out, its slot taken
by another customer, then paid on the old page): the worker decides their refunds and the refund
executor must wait Stripe out, then refund each exactly once (`late_payments`).

After each outage: every payment confirmed exactly once, no fact twice, every paid slot held by
the reservation that paid for it, one e-mail per fact (resends within the documented bound), and
each late payment refunded once with Stripe's refund id recorded, and
the dead-letter topics hold nothing but the one poison event sent during the first outage, which
fails deterministically (a database trigger standing for a bug) and so can only reach the DLQ
once PostgreSQL is back.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from backbone.kafka import Message
from backbone.settings import KafkaSettings
from contracts import headers as hdr
from contracts.reservation import ReservationConfirmedV1
from contracts.topics import NOTIFIER_GROUP, RESERVATION_GROUP, dlq_topic
from devstack.infra import Provided
from devstack.postgres import EmbeddedPostgres
from devstack.running import RunningStack
from devstack.testing import eventually, read_topic, resume, suspend

from .harness import Harness, fact_id
from .late_payments import assert_refunded_once, late_payers, refund_requests
from .stream import Payment, Stream

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

OUTAGE_S = 30.0
PAID_DURING = 3  # sessions opened before each outage and paid while it lasts
SETTLE_EVERY = 10  # NOTIFIER_SETTLE_EVERY: accepted e-mails a failed settle may send again
STRIPE_TIMEOUT_S = 5  # STRIPE_REQUEST_TIMEOUT_S of checkout and the worker on this stack
LATE_DURING = 2  # late payments (refunds to make) paid while Stripe is out
# Outages are retried every 2 s at most, so recovery shows within seconds of the part's return.
ENV_ALL = {
    "CONSUMER_TRANSIENT_BACKOFF_MAX_S": "2",
    "RESERVATION_REFUND_BACKOFF_MAX_S": "2",
    "STRIPE_REQUEST_TIMEOUT_S": str(STRIPE_TIMEOUT_S),
    "NOTIFIER_SETTLE_EVERY": str(SETTLE_EVERY),
}


@pytest.fixture(scope="module")
def outage_postgres() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of this module's own: stopping it touches no other test's stack."""
    server = EmbeddedPostgres.temporary().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def outage_stack(
    kafka_infra: Provided,
    outage_postgres: EmbeddedPostgres,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Harness]:
    postgres = Provided(outage_postgres.url, "embedded", embedded_postgres=outage_postgres)
    work_dir = tmp_path_factory.mktemp("e2e-outages")
    stack = RunningStack.isolated(kafka_infra, postgres, work_dir, env_all=ENV_ALL)
    try:
        stack.start()
        kafka = KafkaSettings(bootstrap_servers=stack.kafka, session_timeout_ms=3_000)
        yield Harness(stack=stack, kafka=kafka, broker=stack.broker, work_dir=Path(work_dir))
    finally:
        stack.stop()


async def _prepared(h: Harness, count: int) -> list[Payment]:
    stream = Stream(h)
    payments = [Payment(h.user(f"o{i}")) for i in range(count)]
    for payment in payments:
        await stream.prepare(payment)
    return payments


async def _outage(
    h: Harness,
    begin: Callable[[], Awaitable[None]],
    end: Callable[[], Awaitable[None]],
    *,
    during: Callable[[], Awaitable[None]] | None = None,
) -> list[Payment]:
    """Sessions opened, the fault on for OUTAGE_S while they are paid and the stream flows,
    the fault off; returns every payment made (prepared ones first)."""
    prepared = await _prepared(h, PAID_DURING)
    stream = Stream(h, patience_s=OUTAGE_S + 120)
    runner = asyncio.create_task(stream.run())
    started = time.monotonic()
    await begin()
    try:
        for payment in prepared:
            await h.complete(payment.session_id, "paid")  # Stripe is up: webhooks retry
            payment.paid = True
            await _until(started, OUTAGE_S * (prepared.index(payment) + 1) / (PAID_DURING + 1))
        if during is not None:
            await during()
        await _until(started, OUTAGE_S)
    finally:
        await end()
        # Also when the scenario failed: a stream left running would pay on into the next test.
        await stream.stop()
        await runner
    assert not stream.errors, stream.errors
    return prepared + stream.payments


async def _until(started: float, elapsed_s: float) -> None:
    """The scenario's clock: wait until `elapsed_s` into the outage (its length is the test)."""

    async def reached() -> bool:
        return time.monotonic() - started >= elapsed_s

    await eventually(reached, timeout=elapsed_s + 60, interval=0.25, what="the outage's length")


async def _dead_letters(h: Harness) -> list[Message]:
    return [
        record
        for group in (RESERVATION_GROUP, NOTIFIER_GROUP)
        for record in await read_topic(h.kafka, dlq_topic(group))
    ]


async def _accounted(h: Harness, payments: list[Payment], *, poisoned: str = "") -> None:
    """Every payment confirmed once, no fact twice, slots held, one e-mail per fact."""
    await eventually(h.deliveries_settled, timeout=180, interval=0.5, what="webhooks delivered")
    paid = [p for p in payments if p.paid and p.reservation_id != poisoned]
    assert len(paid) >= PAID_DURING
    for payment in paid:
        await h.wait_status(payment.user, payment.reservation_id, "succeeded", timeout=180)
    facts = await h.facts()
    confirmed = Counter(f.reservation_id for f in facts if isinstance(f, ReservationConfirmedV1))
    assert all(confirmed[p.reservation_id] == 1 for p in paid), confirmed
    kinds = Counter((type(f).__name__, getattr(f, "reservation_id", None)) for f in facts)
    assert [k for k, n in kinds.items() if n > 1] == [], "a fact published twice"
    intruder = h.user("intruder")
    for payment in paid:
        taken = await h.book_at(intruder, payment.starts_at)
        assert taken.status_code == 409, f"slot of {payment.reservation_id}: {taken.text}"

    fact_ids = {str(f.event_id) for f in facts}
    state: dict[str, list[dict[str, object]]] = {}

    async def one_mail_per_fact() -> bool:
        state["mails"] = await h.messages()
        return {fact_id(m) for m in state["mails"]} >= fact_ids

    await eventually(one_mail_per_fact, timeout=180, interval=0.5, what="an e-mail per fact")
    by_fact = Counter(fact_id(m) for m in state["mails"])
    assert set(by_fact) == fact_ids, "an e-mail that is no fact's"
    ours = {p.reservation_id for p in payments}
    here = {str(f.event_id) for f in facts if getattr(f, "reservation_id", None) in ours}
    # An outage of the notifier's database after a send and before its settle resends at most
    # one settle's worth of accepted e-mails, each with the same Message-ID.
    repeated = sum(by_fact[fact] - 1 for fact in here)
    assert repeated <= SETTLE_EVERY, f"{repeated} e-mails sent again"


async def _readyz(url: str) -> str:
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(url)
    return response.text if response.status_code == 503 else ""


async def test_postgresql_stopped_for_30s_is_waited_out_and_a_poison_still_dead_letters(
    outage_stack: Harness, outage_postgres: EmbeddedPostgres
) -> None:
    h = outage_stack
    # The poison: paying this reservation hits a "bug" (a trigger that raises every time).
    [poison] = await _prepared(h, 1)
    url = h.stack.config.databases["reservation"]
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'poisoned reservation %', NEW.id; END $$"
        )
        await conn.execute(
            "CREATE TRIGGER poison BEFORE UPDATE ON reservations FOR EACH ROW"
            f" WHEN (NEW.id = '{poison.reservation_id}' AND NEW.status = 'succeeded')"
            " EXECUTE FUNCTION poison()"
        )
    worker_ready = h.url("reservation-worker-metrics", "/readyz")

    async def pay_poison_and_see_the_wait() -> None:
        await h.complete(poison.session_id, "paid")
        poison.paid = True
        said = await eventually(lambda: _readyz(worker_ready), timeout=30, what="worker waits")
        assert "waits for postgresql" in said
        assert await _dead_letters(h) == []  # nothing dead-letters while PostgreSQL is away

    async def stop() -> None:
        await asyncio.to_thread(outage_postgres.halt)

    async def start() -> None:
        await asyncio.to_thread(outage_postgres.start)

    payments = await _outage(h, stop, start, during=pay_poison_and_see_the_wait)

    async def poison_dead_lettered() -> list[Message]:
        return await _dead_letters(h)

    [dead] = await eventually(poison_dead_lettered, timeout=180, interval=0.5, what="the poison")
    assert dead.key == poison.session_id.encode()
    assert "poisoned reservation" in (dead.header(hdr.DLQ_ERROR_MESSAGE) or "")
    await _accounted(h, payments, poisoned=poison.reservation_id)
    assert len(await _dead_letters(h)) == 1


async def test_postgresql_hung_for_30s_is_waited_out(
    outage_stack: Harness, outage_postgres: EmbeddedPostgres
) -> None:
    h = outage_stack
    before = len(await _dead_letters(h))

    async def hang() -> None:
        outage_postgres.pause()

    async def wake() -> None:
        outage_postgres.resume()

    payments = await _outage(h, hang, wake)
    await _accounted(h, payments)
    assert len(await _dead_letters(h)) == before


async def test_smtp_answering_451_for_30s_is_waited_out(outage_stack: Harness) -> None:
    h = outage_stack
    before = len(await _dead_letters(h))
    faults = h.url("mail-web", "/_sink/faults")

    async def refuse() -> None:
        answer = await h.http.post(faults, json={"mode": "reject_all", "code": 451})
        assert answer.status_code == 200, answer.text

    async def heal() -> None:
        assert (await h.http.delete(faults)).status_code in (200, 204)

    async def notifier_waits() -> None:
        said = await eventually(
            lambda: _readyz(h.url("notifier", "/readyz")), timeout=30, what="notifier waits"
        )
        assert "waits for smtp" in said

    payments = await _outage(h, refuse, heal, during=notifier_waits)
    await _accounted(h, payments)
    assert len(await _dead_letters(h)) == before


async def test_broker_hung_for_30s_is_waited_out(outage_stack: Harness) -> None:
    h = outage_stack
    if h.broker is None or h.broker.pid is None:
        pytest.skip("needs the embedded broker (a process of ours to SIGSTOP)")
    pid = h.broker.pid
    before = len(await _dead_letters(h))

    async def hang() -> None:
        suspend(pid)

    async def wake() -> None:
        resume(pid)

    payments = await _outage(h, hang, wake)
    await _accounted(h, payments)
    assert len(await _dead_letters(h)) == before


async def _stripe_outage(h: Harness, fault: dict[str, object], *, unanswered: bool) -> None:
    """`fault` on every call of Stripe's API (all of /v1: checkout's sessions fail too, the
    refunds, every look-up) for OUTAGE_S while payments flow and late payments arrive; then
    everything accounted for, each late payment refunded exactly once, nothing dead-lettered.
    `unanswered`: no call reaches Stripe, so each refund is still to be made, tried again.
    The hosted page and the emulator's own control calls are not /v1: webhooks keep coming."""
    before = len(await _dead_letters(h))
    late = await late_payers(h, LATE_DURING)
    faults = h.url("stripe-emulator", "/_emulator/faults")

    async def fail() -> None:
        answer = await h.http.post(faults, json={**fault, "count": None, "path_prefix": "/v1"})
        assert answer.status_code == 200, answer.text
        for payer in late:  # paid as the outage begins: their refunds wait all of it out
            await h.complete(payer.payment.session_id, "paid")

    async def heal() -> None:
        assert (await h.http.delete(faults)).status_code in (200, 204)

    async def refunds_wait() -> None:
        async def tried() -> bool:
            # Each refund decided and tried against Stripe while it is out (and, when Stripe
            # answers nothing, still waiting and tried again: the executor did not give up).
            found = await refund_requests(h, late)
            return len(found) == len(late) and all(
                attempts >= 2 and status == "requested" if unanswered else attempts >= 1
                for status, attempts in found.values()
            )

        await eventually(tried, timeout=OUTAGE_S, interval=0.5, what="refunds tried")

    payments = await _outage(h, fail, heal, during=refunds_wait)
    await assert_refunded_once(h, late)
    await _accounted(h, payments)
    assert len(await _dead_letters(h)) == before


async def test_stripe_answering_503_for_30s_is_waited_out(outage_stack: Harness) -> None:
    await _stripe_outage(outage_stack, {"api_status": 503}, unanswered=True)


async def test_stripe_hanging_past_every_timeout_for_30s_is_waited_out(
    outage_stack: Harness,
) -> None:
    # Every call is carried out, then its answer held three timeouts long: clients give up and
    # try again with the same Idempotency-Key, and Stripe must still hold one refund each.
    hung = {"api_status": None, "delay_seconds": 3 * STRIPE_TIMEOUT_S}
    await _stripe_outage(outage_stack, hung, unanswered=False)
