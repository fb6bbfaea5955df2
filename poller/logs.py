"""Structured logging: one line per event, JSON off a terminal, every value redacted.

The poller's own events (structlog) are rendered in structlog's chain and written straight
to the stream, one ``write`` per line under the handler's lock: no ``logging.LogRecord``
and no formatter on the way, which was most of a line's cost (bench/README.md). Other
libraries' records (alembic, apscheduler, urllib3, ...) go through one ``logging`` handler
on the same stream, whose ``ProcessorFormatter`` gives them the same fields and rendering.
Every event gets a timestamp and level, its exception as text, and is then redacted (see
``poller.redact``) on every string value, nested ones and tracebacks included.

Context for the current unit of work travels in contextvars::

    bind(cycle_id="c-12", application_id="8863902")   # added to every line from here on
    bind(step="employee")
    unbind("step")
    with bound(step="cv"):                             # bound for the block only
        log.info("cv.uploaded")
"""

from __future__ import annotations

import datetime
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
_SCALARS = frozenset({int, float, bool, type(None)})
# Values this module adds itself, which can hold nothing to mask.
_OWN_KEYS = frozenset({"timestamp", "level", "logger"})
# structlog's processor chain, one list for the life of the process (see configure_logging).
_PROCESSORS: list[Processor] = []
# A structlog method's level: what the level check compares.
_METHOD_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "msg": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "err": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}


class _Output:
    """The current level and handler: set by configure_logging, read by every line, so
    loggers cached before a reconfigure follow it."""

    level = logging.INFO
    handler: logging.StreamHandler[IO[str]] | None = None


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if type(value) in _SCALARS:
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
    return {
        key: value
        if key in _OWN_KEYS or type(value) in _SCALARS
        else redact(value)
        if type(value) is str
        else _redact_value(value)
        for key, value in event_dict.items()
    }


# structlog's names for the methods it maps (its map_method_name).
_LEVEL_NAMES = {"warn": "warning", "exception": "error"}
_UTC = datetime.UTC
_now = datetime.datetime.now
_merge_contextvars = structlog.contextvars.merge_contextvars
_format_exc_info = structlog.processors.format_exc_info


def _annotate(logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
    """What every line gets, on either path: its context, logger name, level, timestamp and
    exception as text. One call for structlog's merge_contextvars, add_logger_name,
    add_log_level, TimeStamper(fmt="iso", utc=True) and format_exc_info (five a line before:
    bench/README.md); tests/unit/test_logs.py compares the two."""
    event_dict = _merge_contextvars(logger, method, event_dict)
    record = event_dict.get("_record")  # another library's LogRecord, from ProcessorFormatter
    event_dict["logger"] = logger.name if record is None else record.name
    event_dict["level"] = _LEVEL_NAMES.get(method, method)
    event_dict["timestamp"] = _now(tz=_UTC).isoformat().replace("+00:00", "Z")
    if "exc_info" in event_dict:
        return _format_exc_info(logger, method, event_dict)
    return event_dict


def _stamp(logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
    """The poller's own events: the level check first, so a line below the level costs
    little. (Not for other libraries' records: logging has filtered those already.)"""
    if _METHOD_LEVELS.get(method, logging.INFO) < _Output.level:
        raise structlog.DropEvent
    return _annotate(logger, method, event_dict)


class _LineLogger:
    """structlog's logger for the poller's own events: writes the rendered line to the
    handler's stream, under the handler's lock, so lines from either path never interleave."""

    __slots__ = ("name",)

    def __init__(self, name: str = "root") -> None:
        self.name = name  # for add_logger_name

    def msg(self, line: str) -> None:
        handler = _Output.handler
        if handler is None:
            return
        handler.acquire()
        try:
            handler.stream.write(line + handler.terminator)
            handler.stream.flush()
        finally:
            handler.release()

    debug = info = warning = warn = error = err = exception = critical = fatal = log = msg


def _line_logger(*args: Any) -> _LineLogger:
    return _LineLogger(args[0]) if args and isinstance(args[0], str) else _LineLogger()


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
    the previous handler is replaced, and loggers already in use follow the new settings.
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
        # Other libraries' records get the same fields, traceback text and redaction here.
        foreign_pre_chain=[_annotate, redact_event],
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
    _Output.level, _Output.handler = numeric, handler

    # Changed in place: loggers cache the list on first use, and keep seeing it after this
    # runs again (structlog's testing.capture_logs changes the same instance).
    _PROCESSORS[:] = [
        _stamp,
        redact_event,
        renderer,
    ]
    structlog.reset_defaults()
    structlog.configure(
        processors=_PROCESSORS,
        logger_factory=_line_logger,
        # Every method is live here; _level_filter reads the level of the day.
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        # Cached: otherwise every call, even one below the level, builds a new bound logger.
        # A later configure_logging still applies: level and handler live in _Output, the
        # chain in _PROCESSORS.
        cache_logger_on_first_use=True,
    )
