"""Transient or deterministic: the one place that tells an outage from a message that cannot work.

A transient failure is a dependency that is down or slow (PostgreSQL, the broker, Stripe, SMTP):
the consumer waits it out, in order, for as long as it lasts, and never dead-letters for it. A
deterministic failure (a payload that does not decode, a contract broken, a bug) would fail the
same way every time: bounded retries, then the dead-letter topic. Anything not recognised here is
treated as deterministic, so a poison message cannot stall a partition forever.

Services mark their own exception types by subclassing `TransientError` / `PermanentError`, or
with `register_transient` for types they do not own. Stripe and SMTP errors are recognised by
their class names, so backbone imports neither SDK.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum


class PermanentError(Exception):
    """A failure no retry can fix (a malformed payload): dead-letter at once."""


# Dead letters name the error class by its module path (`dlq inspect --error` and saved operator
# queries know this one as backbone.kafka.retry.PermanentError, where it was first defined): a
# name on the wire, kept although the modules are now private (`from backbone.kafka import ...`).
PermanentError.__module__ = "backbone.kafka.retry"


class TransientError(Exception):
    """A dependency is down or slow: wait it out, never dead-letter. `dependency` names it."""

    dependency: str = "dependency"


class Kind(Enum):
    """How a failure is handled."""

    TRANSIENT = "transient"  # retried for as long as it lasts, never dead-lettered
    PERMANENT = "permanent"  # dead-lettered at once
    DETERMINISTIC = "deterministic"  # bounded retries, then dead-lettered


@dataclass(frozen=True)
class Failure:
    """What a failure is, and for a transient one which dependency it waits for."""

    kind: Kind
    dependency: str | None = None

    @property
    def transient(self) -> bool:
        """Whether to wait it out."""
        return self.kind is Kind.TRANSIENT


DETERMINISTIC = Failure(Kind.DETERMINISTIC)
PERMANENT = Failure(Kind.PERMANENT)

# A rule looks at one exception and says "transient, waiting for <dependency>" or passes (None).
Rule = Callable[[BaseException], str | None]
_registered: list[tuple[type[BaseException], str]] = []

# SQLSTATEs of a database that is restarting, failing over or out of connections, and of
# transactions the server aborted only because of concurrency (a retry succeeds).
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57P")
_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03"}
_NETWORK_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ENETDOWN,
    errno.ETIMEDOUT,
    errno.EPIPE,
}


def register_transient(exc_type: type[BaseException], dependency: str) -> None:
    """Treat `exc_type` (and subclasses) as a transient failure of `dependency`."""
    _registered.append((exc_type, dependency))


def _names(exc: BaseException) -> set[str]:
    return {f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__}


def _database(exc: BaseException) -> str | None:
    names = _names(exc)
    if "sqlalchemy.exc.DBAPIError" in names:
        if getattr(exc, "connection_invalidated", False):
            return "postgresql"
        if names & {"sqlalchemy.exc.OperationalError", "sqlalchemy.exc.InterfaceError"}:
            return "postgresql"
        orig = getattr(exc, "orig", None)
        return _database(orig) if isinstance(orig, BaseException) else None
    if "sqlalchemy.exc.TimeoutError" in names:  # no free connection in the pool in time
        return "postgresql"
    if any(n.startswith("psycopg.") for n in names):
        sqlstate = getattr(exc, "sqlstate", None) or ""
        if sqlstate in _TRANSIENT_SQLSTATES or sqlstate.startswith(_TRANSIENT_SQLSTATE_PREFIXES):
            return "postgresql"
        if names & {"psycopg.OperationalError", "psycopg.InterfaceError"}:
            return "postgresql"
    return None


def _broker(exc: BaseException) -> str | None:
    names = _names(exc)
    if "backbone.kafka._producer.BrokerUnavailable" in names:
        return "broker"
    if "aiokafka.errors.KafkaError" in names:
        retriable = getattr(exc, "retriable", False)
        if retriable or names & {
            "aiokafka.errors.KafkaConnectionError",
            "aiokafka.errors.KafkaTimeoutError",
            "aiokafka.errors.RequestTimedOutError",
            "aiokafka.errors.NodeNotReadyError",
        }:
            return "broker"
    return None


def _stripe(exc: BaseException) -> str | None:
    names = _names(exc)
    if not any(n.startswith("stripe.") for n in names):
        return None
    if any(n.endswith((".APIConnectionError", ".RateLimitError")) for n in names):
        return "stripe"
    status = getattr(exc, "http_status", None)
    if isinstance(status, int) and (status >= 500 or status == 429):
        return "stripe"
    return None


def _smtp(exc: BaseException) -> str | None:
    names = _names(exc)
    if not any(n.startswith("aiosmtplib.") or n.startswith("smtplib.") for n in names):
        return None
    if any(
        n.endswith((".SMTPConnectError", ".SMTPServerDisconnected", ".SMTPTimeoutError"))
        for n in names
    ):
        return "smtp"
    code = getattr(exc, "code", None) or getattr(exc, "smtp_code", None)
    if isinstance(code, int) and 400 <= code < 500:
        return "smtp"
    return None


def _network(exc: BaseException) -> str | None:
    # Last: an OSError subclass of a known client (aiosmtplib's errors are) is named above. Not
    # every OSError: a missing file is a bug that would fail the same way forever.
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return "network"
    if isinstance(exc, OSError) and (type(exc) is OSError or exc.errno in _NETWORK_ERRNOS):
        return "network"
    return None


_RULES: tuple[Rule, ...] = (_database, _broker, _stripe, _smtp, _network)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what caused it (`raise ... from`, or raised while handling), once each."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _one(exc: BaseException) -> Failure | None:
    if isinstance(exc, PermanentError):
        return PERMANENT
    if isinstance(exc, TransientError):
        return Failure(Kind.TRANSIENT, exc.dependency)
    for exc_type, registered in _registered:
        if isinstance(exc, exc_type):
            return Failure(Kind.TRANSIENT, registered)
    for rule in _RULES:
        found = rule(exc)
        if found is not None:
            return Failure(Kind.TRANSIENT, found)
    return None


def classify(exc: BaseException) -> Failure:
    """Transient (with the dependency it waits for), permanent, or deterministic.

    The exception itself decides first; else the first recognised exception among its causes
    (a service's error raised `from` a lost connection is still an outage). A group is transient
    only if every member is.
    """
    if isinstance(exc, BaseExceptionGroup):
        members = [classify(e) for e in exc.exceptions]
        if members and all(m.transient for m in members):
            return members[0]
        return PERMANENT if any(m.kind is Kind.PERMANENT for m in members) else DETERMINISTIC
    if isinstance(exc, PermanentError):
        return PERMANENT
    for link in _chain(exc):
        failure = _one(link)
        if failure is not None:
            return failure
    return DETERMINISTIC
