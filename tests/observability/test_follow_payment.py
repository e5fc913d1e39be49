"""One payment followed through the logs of every service by its correlation id (the session id).

The id enters at checkout when the Checkout Session is created and at ingest as the event key;
it travels in the `correlation-id` Kafka header and the outbox, and every service binds it on its
log lines together with the Stripe event id, the session id and the reservation id.
"""

from __future__ import annotations

import pytest

from contracts.reservation import RESERVATION_CONFIRMED_V1

from .support import LogLine, PaymentRun

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _by_correlation(run: PaymentRun, process: str) -> list[LogLine]:
    return [ln for ln in run.lines(process) if ln.fields.get("correlation_id") == run.session_id]


def _describe(lines: list[LogLine]) -> str:
    return "\n".join(f"{ln.process}: {ln.fields}" for ln in lines[-30:])


async def test_every_service_logs_the_payment_under_one_correlation_id(
    paid_payment: PaymentRun,
) -> None:
    run = paid_payment
    followed = {
        process: _by_correlation(run, process)
        for process in ("checkout", "webhook-ingest", "reservation-worker", "notifier")
    }
    for process, lines in followed.items():
        assert lines, f"{process} logged nothing under {run.session_id}:\n" + _describe(
            run.lines(process)
        )

    # checkout: the session it created, with the request that created it.
    [created] = [ln for ln in followed["checkout"] if ln.event == "checkout.session_created"]
    assert created.fields["session_id"] == run.session_id
    assert created.fields.get("request_id")

    # ingest: every Stripe event about the session, each with its event id.
    published = [ln for ln in followed["webhook-ingest"] if ln.event == "webhook.published"]
    assert {ln.fields["event_id"] for ln in published} >= set(run.stripe_event_ids)
    assert all(ln.fields["session_id"] == run.session_id for ln in published)

    # reservation worker: the checkout fact and the Stripe event applied to the reservation.
    # One audit line per applied event, once committed: what it did to each reservation.
    worker = followed["reservation-worker"]
    committed = [ln for ln in worker if ln.event == "payment.committed"]
    assert committed, _describe(worker)
    assert all(ln.fields["session_id"] == run.session_id for ln in committed)
    assert all(ln.fields["reservation_ids"] == [run.reservation_id] for ln in committed)
    by_step = {ln.fields.get("step"): ln for ln in committed}
    # Checkout's fact and Stripe's event travel on different topics: the fact may come second.
    # A payment counts only against checkout's fact, so then the payment waits (processing)
    # and the fact's transaction confirms it.
    created, completed = by_step["session_created"].fields, by_step["completed"].fields
    if completed["actions"] == {run.reservation_id: "confirm"}:
        assert created["actions"] in (
            {run.reservation_id: "process"},
            {run.reservation_id: "nothing"},
        )
        assert RESERVATION_CONFIRMED_V1 in completed["facts"]
    else:
        assert completed["actions"] == {run.reservation_id: "process"}
        assert created["actions"] == {run.reservation_id: "confirm"}
        assert RESERVATION_CONFIRMED_V1 in created["facts"]
    stripe_ids = {ln.fields.get("event_id") for ln in committed}
    assert set(run.stripe_event_ids) & stripe_ids, _describe(worker)

    # notifier: the confirmation e-mail, for this reservation and session.
    [sent] = [ln for ln in followed["notifier"] if ln.event == "notification.sent"]
    assert sent.fields["reservation_id"] == run.reservation_id
    assert sent.fields["session_id"] == run.session_id


async def test_no_line_about_the_payment_lacks_its_correlation_id(paid_payment: PaymentRun) -> None:
    """Once the session exists, a line naming it or the reservation carries the correlation id."""
    run = paid_payment
    stray: list[LogLine] = []
    for process in ("checkout", "webhook-ingest", "reservation-worker", "notifier"):
        for line in run.lines(process):
            about = line.mentions(run.session_id) or (
                process in ("reservation-worker", "notifier") and line.mentions(run.reservation_id)
            )
            if about and line.fields.get("correlation_id") != run.session_id:
                stray.append(line)
    assert not stray, "lines about the payment without its correlation id:\n" + _describe(stray)
