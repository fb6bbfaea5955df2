"""Structured logging: one line per event, JSON off a terminal, every value redacted.

structlog's standard-library integration: the poller's own events become ``logging``
records (``ProcessorFormatter.wrap_for_formatter``) and go through the root logger like
any other library's, so every handler a deployer adds (a file, Sentry) and pytest's
``caplog`` sees them. One handler on the root logger renders both kinds the same way, with a
timestamp, level, logger name, context and exception text, and then redacts (see
``poller.redact``) every string value, nested ones and tracebacks included.

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
NOISY_LOGGERS = ("alembic", "apscheduler", "urllib3", "requests", "sqlalchemy", "apprise")
_SCALARS = (int, float, bool, type(None))
# Values added by the chain itself, which can hold nothing to mask.
_OWN_KEYS = frozenset({"timestamp", "level", "logger"})
# The chain of the poller's own events, changed in place by configure_logging: structlog's
# cached loggers keep the list they were built with (as structlog.testing.capture_logs does).
_PROCESSORS: list[Processor] = []


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, _SCALARS):
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
    """structlog processor: mask secrets in every value, recursively. The formatter's own
    keys (``_record``, ``_from_structlog``) are left for it to remove."""
    return {
        key: value if key in _OWN_KEYS or key.startswith("_") else _redact_value(value)
        for key, value in event_dict.items()
    }


def _is_tty(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream
        return False


class _BoundLogger(structlog.stdlib.BoundLogger):
    """``exception`` as an ERROR line whose traceback is rendered (and redacted) by the chain:
    stdlib's ``Logger.exception`` would also hand the raw exception to every handler."""

    def exception(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        kw.setdefault("exc_info", True)
        return self.error(event, *args, **kw)


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
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_event,
    ]
    handler = _PollerHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,  # other libraries' records get the same fields
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _PollerHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelName(level_name)
    root.setLevel(numeric)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))

    _PROCESSORS[:] = [
        structlog.stdlib.filter_by_level,  # first: a line below the level costs little
        *shared,
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ]
    structlog.configure(
        processors=_PROCESSORS,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=_BoundLogger,
        cache_logger_on_first_use=True,
    )
