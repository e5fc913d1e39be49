"""structlog configuration: JSON off a terminal, pretty on one, ids bound through a context
variable."""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

import structlog

from backbone.settings import LogSettings

# Keys whose values must never reach a log line, whatever a caller binds.
_REDACTED_KEYS = frozenset(
    {"secret", "password", "authorization", "stripe_signature", "api_key", "token", "card"}
)


def _stderr() -> Any:
    """sys.stderr now, except mode's FileLogProxy: a Faust worker swaps stderr for a proxy that
    logs each write as a WARNING record, which would wrap every JSON line in Faust's own format."""
    stream = sys.stderr
    if type(stream).__name__ == "FileLogProxy" and sys.__stderr__ is not None:
        return sys.__stderr__
    return stream


class _Pending:
    """One thread's lines waiting for the end of its loop's turn."""

    __slots__ = ("flush_on", "lines", "size")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.size = 0
        self.flush_on: asyncio.AbstractEventLoop | None = None  # the loop a flush is due on


class _CurrentStderr:
    """Writes to whatever sys.stderr is at the time of writing (test runners swap it).

    On a thread running an event loop, the lines of one loop turn go out together, in one write
    at the end of the turn (or sooner, past _FLUSH_AT characters), instead of a write system call
    per line. Elsewhere (no running loop) a line goes out at once, after any lines the thread
    still holds. What a SIGKILL can lose is the current turn's lines; a loop that stops before
    its next turn leaves its last lines to the thread's next write, and an ordinary exit writes
    what is left (atexit).
    """

    _FLUSH_AT = 64 * 1024

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[_Pending] = []  # every thread's, for the exit flush
        self._lock = threading.Lock()
        atexit.register(self.flush_all)

    def write(self, text: str) -> int:
        pending = self._pending()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._flush(pending)  # what an earlier loop left goes first
            return int(_stderr().write(text))
        if pending.flush_on is not loop:
            # None due yet, or due on a loop that stopped before its next turn (a thread may
            # run one loop after another): the end of this turn writes what is pending.
            loop.call_soon(self._flush, pending)
            pending.flush_on = loop
        pending.lines.append(text)
        pending.size += len(text)
        if pending.size >= self._FLUSH_AT:
            self._flush(pending)
        return len(text)

    def flush(self) -> None:
        """Out now when no loop runs here; on a loop, the end-of-turn flush is already due."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._flush(self._pending())
            _stderr().flush()

    def flush_all(self) -> None:
        """Every thread's pending lines (at exit, when no loop turn will end any more)."""
        with self._lock:
            every = list(self._all)
        for pending in every:
            self._flush(pending)

    def _pending(self) -> _Pending:
        pending: _Pending | None = getattr(self._local, "pending", None)
        if pending is None:
            pending = self._local.pending = _Pending()
            with self._lock:
                self._all.append(pending)
        return pending

    @staticmethod
    def _flush(pending: _Pending) -> None:
        pending.flush_on = None
        if pending.lines:
            text = "".join(pending.lines)
            pending.lines.clear()
            pending.size = 0
            stream = _stderr()
            stream.write(text)
            stream.flush()


# The one writer of every line, structlog's and the standard library's, so they stay in order.
_STDERR = _CurrentStderr()


class _LineLogger:
    """structlog's final logger: each rendered line to _STDERR in one call (PrintLogger takes a
    lock and prints in three calls per line)."""

    def msg(self, message: str) -> None:
        _STDERR.write(message + "\n")

    log = debug = info = warn = warning = err = error = critical = exception = fatal = msg


def _line_logger(*_: Any) -> _LineLogger:
    return _LINE_LOGGER


_LINE_LOGGER = _LineLogger()

# The formatter stdlib records get (set by configure_logging; Faust's logging config uses it).
_formatters: dict[str, logging.Formatter] = {}


def stdlib_formatter() -> logging.Formatter:
    """The formatter configure_logging gives stdlib records (a plain one before it ran)."""
    return _formatters.get("stdlib") or logging.Formatter("%(levelname)s %(name)s %(message)s")


def faust_logging_config(settings: LogSettings | None = None) -> dict[str, Any]:
    """A logging dictConfig for Faust's worker (app.conf.logging_config), which otherwise
    replaces the root handler with its own coloured format when the worker starts: our
    format (JSON off a terminal) on stderr, as configure_logging set it up."""
    settings = settings or LogSettings()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"backbone": {"()": "backbone.logging.stdlib_formatter"}},
        "handlers": {
            "backbone": {
                "class": "logging.StreamHandler",
                "formatter": "backbone",
                "stream": "ext://sys.__stderr__",
            }
        },
        "root": {"level": max(_level(settings), logging.INFO), "handlers": ["backbone"]},
    }


def _level(settings: LogSettings) -> int:
    return logging.getLevelNamesMapping().get(settings.level.upper(), logging.INFO)


def _redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        if key.lower() in _REDACTED_KEYS:
            event[key] = "[redacted]"
    return event


# The ids `bound_ids` binds, all in one context variable: a block binds a new mapping and sets
# the one before back on the way out. (structlog's contextvars take a variable per key, and each
# line they merge copies the whole context: several times the cost, on every event handled.)
_IDS: ContextVar[Mapping[str, object]] = ContextVar(
    "backbone_log_ids", default=MappingProxyType({})
)


def _merge_ids(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """The bound ids on the line; a field the call names itself wins."""
    for key, value in _IDS.get().items():
        event.setdefault(key, value)
    return event


def _service(name: str) -> Any:
    def add_service(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", name)
        return event

    return add_service


def configure_logging(service: str, settings: LogSettings | None = None) -> None:
    """Configure structlog and the standard library for `service`; call once per process."""
    settings = settings or LogSettings()
    level = _level(settings)
    as_json = settings.format == "json" or (settings.format == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        _merge_ids,
        _service(service),
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_line_logger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(_STDERR)
    formatter = _formatters["stdlib"] = structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(level, logging.INFO))
    for noisy in ("aiokafka", "kafka", "faust", "mode", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> Any:
    """A structlog logger; ids bound with `bound_ids` appear on every line it writes."""
    return structlog.get_logger(name)


@contextmanager
def bound_ids(**ids: object) -> Iterator[None]:
    """Bind ids (request, event, session, reservation...) to every log line inside the block
    (None leaves an id bound outside as it is); the ids bound before come back on the way out."""
    present = {k: v for k, v in ids.items() if v is not None}
    before = _IDS.get()
    _IDS.set({**before, **present})
    try:
        yield
    finally:
        # Set back, not reset by token: a block may end in another context than it began in.
        _IDS.set(before)
