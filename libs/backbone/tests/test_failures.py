"""The failure classifier: outages are transient (with the dependency named), the rest bounded."""

from __future__ import annotations

import errno
import socket

import aiosmtplib
import psycopg
import pytest
import stripe
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from sqlalchemy.exc import OperationalError as SAOperationalError
from sqlalchemy.exc import ProgrammingError as SAProgrammingError

from backbone.kafka import (
    BrokerUnavailable,
    Kind,
    PermanentError,
    TransientError,
    classify,
    register_transient,
)


def _sqlstate_error(cls: type[psycopg.Error], sqlstate: str) -> psycopg.Error:
    # psycopg fills `sqlstate` from the server's diagnostics; a subclass carries it as a class
    # attribute, which is how psycopg's own per-SQLSTATE classes do it.
    return type(f"E{sqlstate}", (cls,), {"sqlstate": sqlstate})("x")


@pytest.mark.parametrize(
    ("exc", "dependency"),
    [
        (psycopg.OperationalError("connection refused"), "postgresql"),
        (psycopg.errors.SerializationFailure("could not serialize"), "postgresql"),
        (psycopg.errors.DeadlockDetected("deadlock"), "postgresql"),
        (psycopg.errors.AdminShutdown("terminating connection"), "postgresql"),
        (SAOperationalError("SELECT 1", {}, psycopg.OperationalError("gone")), "postgresql"),
        (BrokerUnavailable("no ack"), "broker"),
        (KafkaConnectionError("down"), "broker"),
        (KafkaTimeoutError(), "broker"),
        (stripe.APIConnectionError("no route"), "stripe"),
        (stripe.RateLimitError("slow down", http_status=429), "stripe"),
        (stripe.APIError("boom", http_status=503), "stripe"),
        (aiosmtplib.SMTPConnectError("refused"), "smtp"),
        (aiosmtplib.SMTPServerDisconnected("gone"), "smtp"),
        (aiosmtplib.SMTPResponseException(451, "try later"), "smtp"),
        (aiosmtplib.SMTPResponseException(421, "closing"), "smtp"),
        (ConnectionRefusedError(), "network"),
        (TimeoutError(), "network"),
        (OSError(errno.EHOSTUNREACH, "no route"), "network"),
        (socket.gaierror("no such host"), "network"),
    ],
)
def test_outages_are_transient_and_name_their_dependency(
    exc: BaseException, dependency: str
) -> None:
    failure = classify(exc)
    assert failure.kind is Kind.TRANSIENT
    assert failure.dependency == dependency


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad payload"),
        KeyError("missing"),
        SAProgrammingError("SELECT nope", {}, psycopg.errors.UndefinedTable("nope")),
        psycopg.errors.UniqueViolation("duplicate"),
        stripe.InvalidRequestError("no such charge", param="charge", http_status=400),
        stripe.APIError("a 4xx that is not rate limiting", http_status=402),
        aiosmtplib.SMTPResponseException(550, "no such user"),
        FileNotFoundError(errno.ENOENT, "missing template"),
    ],
)
def test_deterministic_failures_get_bounded_retries(exc: BaseException) -> None:
    assert classify(exc).kind is Kind.DETERMINISTIC


def test_marked_types_win_and_causes_count() -> None:
    class StripeDown(TransientError):
        dependency = "stripe"

    class Poison(PermanentError):
        pass

    assert classify(StripeDown()).dependency == "stripe"
    assert classify(Poison()).kind is Kind.PERMANENT
    # A service's own error raised from a lost connection is an outage, unless marked permanent.
    lost = psycopg.OperationalError("server closed the connection")
    wrapped = RuntimeError("could not load the reservation")
    wrapped.__cause__ = lost
    assert classify(wrapped).dependency == "postgresql"
    marked = Poison("undecodable")
    marked.__cause__ = lost
    assert classify(marked).kind is Kind.PERMANENT


def test_registered_types_and_groups() -> None:
    class LedgerBusy(Exception):
        pass

    assert classify(LedgerBusy()).kind is Kind.DETERMINISTIC
    register_transient(LedgerBusy, "ledger")
    assert classify(LedgerBusy()).dependency == "ledger"
    transient = ExceptionGroup("all down", [LedgerBusy(), TimeoutError()])
    assert classify(transient).transient
    mixed = ExceptionGroup("one bug", [LedgerBusy(), ValueError("bug")])
    assert classify(mixed).kind is Kind.DETERMINISTIC
    assert classify(_sqlstate_error(psycopg.DatabaseError, "57P01")).dependency == "postgresql"


async def test_retry_transient_waits_out_an_outage_and_raises_anything_else() -> None:
    from backbone.kafka import retry_transient
    from backbone.settings import RetrySettings

    fast = RetrySettings(transient_backoff_initial_s=0.01, transient_backoff_max_s=0.02)
    calls = 0

    async def listing() -> str:
        nonlocal calls
        calls += 1
        if calls <= 6:
            raise stripe.APIError("upstream", http_status=503)
        return "sessions"

    assert await retry_transient(listing, owner="reconcile", settings=fast) == "sessions"
    assert calls == 7

    async def refused() -> str:
        raise stripe.InvalidRequestError("bad", param="created", http_status=400)

    with pytest.raises(stripe.InvalidRequestError):
        await retry_transient(refused, owner="reconcile", settings=fast)

    async def down() -> str:
        raise stripe.APIConnectionError("no route")

    with pytest.raises(stripe.APIConnectionError):
        await retry_transient(down, owner="reconcile", settings=fast, give_up_after_s=0.1)
