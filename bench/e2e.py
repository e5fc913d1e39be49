"""End to end: payments at a steady rate through ingest, the worker, the relay, the notifier, SMTP.

For every payment: the 2xx of its webhook (load process), the commit of its reservation
(`updated_at`, written by the worker in the transaction that confirms it) and the moment the SMTP
server accepted its e-mail (the mail sink's receive time). Every payment must be accounted for:
published (2xx) = confirmed + dead-lettered. In a stack of our own, the CPU every process used
from the first request until the run settled, per payment committed (`bench.cost`).
"""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

from bench import cost, loadgen
from bench.payments import (
    database_activity,
    event_body,
    new_batch,
    outcomes,
    seed,
    settled_count,
)
from bench.stack import System, keys_on, mail_received, mail_total
from bench.stats import CpuSeconds, cpu_watch, load_text, summary
from contracts.topics import RESERVATION_GROUP, dlq_topic


def run(
    system: System, rate: float, duration: float, work_dir: Path, *, settle_s: float
) -> dict[str, Any]:
    """One steady run; waits at most `settle_s` after the last request for the pipeline."""
    count = int(rate * duration)
    batch = new_batch(count, f"e{int(rate)}")
    seed_s = seed(system.reservation_db, batch)
    bodies = [event_body(p, batch.tag) for p in batch.payments]
    mails_before = mail_total(system.mail_url)
    load_before = load_text()
    cpu = cpu_watch(system.pids())
    seconds = CpuSeconds(system.pids())
    db_before = database_activity(system.reservation_db)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    answers = loadgen.run(system.ingest_url, system.secret, bodies, rate, work_dir)
    # The load process is the only child reaped meanwhile: its own CPU, exactly.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_s = after.ru_utime + after.ru_stime - reaped.ru_utime - reaped.ru_stime
    # The pipeline finishes after the last 2xx: wait for it (bounded), CPU still counted.
    deadline = time.monotonic() + settle_s
    while time.monotonic() < deadline and settled_count(system.reservation_db, batch) < count:
        time.sleep(0.5)
    confirmed_target = settled_count(system.reservation_db, batch)
    while (
        time.monotonic() < deadline
        and mail_total(system.mail_url) - mails_before < confirmed_target
    ):
        time.sleep(0.5)
    usage = cpu.report()
    usage["load"] = answers["load_cpu_percent"]
    used = seconds.stop()
    db_after = database_activity(system.reservation_db)
    used["seconds"]["load generator"] = round(load_s, 3)
    figures = _figures(system, batch, answers, rate, duration, seed_s, usage, load_before)
    figures["cost"] = cost.per_payment(used, figures["confirmed"]) if system.controllable else None
    if figures["confirmed"]:
        # Statistics reach pg_stat_database when each backend reports (within a second or so).
        figures["postgres_per_payment"] = {
            k: round((db_after[k] - db_before[k]) / figures["confirmed"], 2) for k in db_after
        }
    return figures


def _figures(  # noqa: PLR0917 - private, one caller
    system: System,
    batch: Any,
    answers: dict[str, Any],
    rate: float,
    duration: float,
    seed_s: float,
    usage: dict[str, float],
    load_before: str,
) -> dict[str, Any]:
    states = outcomes(system.reservation_db, batch)
    mails = mail_received(system.mail_url, set(batch.by_email()))
    http, commit, mail, commit_sched, mail_sched = [], [], [], [], []
    published = confirmed = 0
    for p in batch.payments:
        due, answered, status = (
            answers["due"][p.index],
            answers["answered"][p.index],
            answers["status"][p.index],
        )
        if answered:
            http.append(answered - due)
        if status != 200:
            continue
        published += 1
        state, updated = states.get(p.reservation_id, ("missing", 0.0))
        if state == "succeeded":
            confirmed += 1
            commit.append(updated - answered)
            commit_sched.append(updated - due)
        if p.email in mails:
            mail.append(mails[p.email] - answered)
            mail_sched.append(mails[p.email] - due)
    sessions = {p.session_id.encode() for p in batch.payments}
    dead = keys_on(system.kafka, dlq_topic(RESERVATION_GROUP), sessions)
    statuses: dict[str, int] = {}
    for status in answers["status"]:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {
        "rate": rate,
        "duration_s": duration,
        "payments": len(batch.payments),
        "seed_s": round(seed_s, 1),
        "http_statuses": statuses,
        "http_from_schedule": summary(http),
        "commit_from_2xx": summary(commit),
        "mail_from_2xx": summary(mail),
        "commit_from_schedule": summary(commit_sched),
        "mail_from_schedule": summary(mail_sched),
        "published": published,
        "confirmed": confirmed,
        "dead_lettered": dead,
        "emails": len(mails),
        "accounted": published == confirmed + dead,
        "unfinished_http": answers["unfinished"],
        "cpu_percent": usage,
        "load_before": load_before,
    }
