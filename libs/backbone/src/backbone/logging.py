"""structlog configuration: JSON off a terminal, pretty on one, ids bound through contextvars."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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


class _CurrentStderr:
    """Writes to whatever sys.stderr is at the time of writing (test runners swap it)."""

    def write(self, text: str) -> int:
        return int(_stderr().write(text))

    def flush(self) -> None:
        _stderr().flush()


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


def configure_logging(service: str, settings: LogSettings | None = None) -> None:
    """Configure structlog and the standard library for `service`; call once per process."""
    settings = settings or LogSettings()
    level = _level(settings)
    as_json = settings.format == "json" or (settings.format == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
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
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(_CurrentStderr())
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
    """Bind ids (request, event, session, reservation...) to every log line inside the block."""
    present = {k: v for k, v in ids.items() if v is not None}
    with structlog.contextvars.bound_contextvars(**present):
        yield
