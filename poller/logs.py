"""Structured logging: one line per event, JSON off a terminal, every value redacted.

Both structlog loggers and stdlib loggers (alembic, apscheduler, urllib3, ...) end in one
``logging`` handler whose ``ProcessorFormatter`` renders JSON or console text. Every event is
given a timestamp and level, its exception as text, and is then redacted (see
``poller.redact``) on every string value, nested ones and tracebacks included: structlog's in
their own chain, before any handler sees them; other libraries' in the formatter.

Context for the current unit of work travels in contextvars::

    bind(cycle_id="c-12", application_id="8863902")   # added to every line from here on
    bind(step="employee")
    unbind("step")
    with bound(step="cv"):                             # bound for the block only
        log.info("cv.uploaded")
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import IO, Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from poller.redact import redact

__all__ = ["configure_logging"]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS = ("json", "text", "auto")
# Libraries that are chatty at INFO; their warnings and errors still come through.
NOISY_LOGGERS = ("alembic", "apscheduler", "urllib3", "requests", "sqlalchemy")
_PRIMITIVES = (str, int, float, bool, type(None))
# structlog's processor chain, one list for the life of the process (see configure_logging).
_PROCESSORS: list[Processor] = []


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, Mapping):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v) for v in value]
    # Anything else would be rendered with str()/repr() by the renderer, unredacted: do it here.
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    return redact(str(value))


def redact_event(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secrets in every value, recursively."""
    return {key: _redact_value(value) for key, value in event_dict.items()}


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]


def _is_tty(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream
        return False


class _PollerHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so a second configure replaces it."""


def configure_logging(level: str, fmt: str, *, stream: IO[str] | None = None) -> None:
    """Send all logging to ``stream`` (default stderr, so stdout stays for command output).

    ``fmt`` is "json", "text", or "auto" (text on a TTY, JSON otherwise). Safe to call again:
    the previous handler is replaced.
    """
    level_name = level.upper()
    if level_name not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}")
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    out: IO[str] = stream if stream is not None else sys.stderr
    tty = _is_tty(out)

    renderer: Processor
    if fmt == "json" or (fmt == "auto" and not tty):
        renderer = structlog.processors.JSONRenderer()
    else:
        # Tracebacks are already plain text (and redacted) by the time they get here.
        renderer = structlog.dev.ConsoleRenderer(
            colors=tty, exception_formatter=structlog.dev.plain_traceback
        )

    formatter = structlog.stdlib.ProcessorFormatter(
        # Records from other libraries get the same fields, traceback text and redaction
        # here; structlog's own events went through them in the chain below, once.
        foreign_pre_chain=[
            *_shared_processors(),
            structlog.processors.format_exc_info,
            redact_event,
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = _PollerHandler(out)
    handler.setFormatter(formatter)

    # No line renders a record's caller, thread or process, so don't compute them: the
    # optimisations the logging HOWTO lists ("Optimization"), a tenth of a line's calls.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False

    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _PollerHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelName(level_name)
    root.setLevel(numeric)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))

    # Changed in place: loggers cache the list on first use, and keep seeing it after this
    # runs again (structlog's testing.capture_logs keeps the instance for the same reason).
    _PROCESSORS[:] = [
        structlog.stdlib.filter_by_level,
        *_shared_processors(),
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.StackInfoRenderer(),
        # Redacted here too, so any other handler on the root logger (pytest's caplog,
        # an error tracker) never sees the raw event either.
        structlog.processors.format_exc_info,
        redact_event,
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ]
    structlog.reset_defaults()
    structlog.configure(
        processors=_PROCESSORS,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Cached: otherwise every call, even one below the level, builds a new bound logger
        # and looks its stdlib logger up again. A later configure_logging still applies:
        # the level, handler and format live in stdlib logging, the chain in _PROCESSORS.
        cache_logger_on_first_use=True,
    )
