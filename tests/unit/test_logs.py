"""Structured logging and redaction: JSON lines, context, and no secret ever in the output."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from poller import logs, redact

SECRET = "pp-live-9f8e7d6c5b4a"
HIBOB_TOKEN = "c3ZjLXVzZXI6aGItdG9rZW4tc2VjcmV0"  # base64 of "svc-user:hb-token-secret"
SIGNED_URL = (
    "https://bucket.s3.amazonaws.com/cv/brian.pdf?X-Amz-Signature=deadbeefcafe&X-Amz-Expires=60"
)
DB_URL = "postgresql+psycopg://poller:db-pass-4321@db.internal:5432/poller"
LEAKS = (SECRET, HIBOB_TOKEN, "hb-token-secret", "deadbeefcafe", "db-pass-4321")


class TTYStream(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    redact.clear_secrets()
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()
    redact.clear_secrets()
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if type(handler).__module__ == "poller.logs":
            root.removeHandler(handler)


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def assert_clean(output: str) -> None:
    for leak in LEAKS:
        assert leak not in output


def test_json_lines_carry_timestamp_level_event_and_context() -> None:
    out = io.StringIO()
    logs.configure_logging("INFO", "json", stream=out)
    log = structlog.stdlib.get_logger("poller.sync")
    structlog.contextvars.bind_contextvars(cycle_id="c-1", application_id="8863902")
    with structlog.contextvars.bound_contextvars(step="employee"):
        log.info("step.done", ms=12)
    structlog.contextvars.unbind_contextvars("application_id")
    log.warning("cycle.slow")
    log.debug("hidden")  # below INFO

    first, second = json_lines(out)
    assert first["event"] == "step.done"
    assert first["level"] == "info"
    assert first["timestamp"].endswith("Z")
    assert (first["cycle_id"], first["application_id"], first["step"]) == (
        "c-1",
        "8863902",
        "employee",
    )
    assert first["ms"] == 12
    assert first["logger"] == "poller.sync"
    assert second["level"] == "warning"
    assert "application_id" not in second
    assert "step" not in second


def test_own_events_below_the_level_are_dropped() -> None:
    out = io.StringIO()
    logs.configure_logging("WARNING", "json", stream=out)
    log = structlog.stdlib.get_logger("poller.sync")
    log.debug("d")
    log.info("i")
    log.warning("w")
    assert [line["event"] for line in json_lines(out)] == ["w"]


def test_auto_format_is_json_off_a_tty_and_text_on_one() -> None:
    out = io.StringIO()
    logs.configure_logging("INFO", "auto", stream=out)
    structlog.stdlib.get_logger().info("hello", k="v")
    assert json_lines(out)[0]["event"] == "hello"

    tty = TTYStream()
    logs.configure_logging("INFO", "auto", stream=tty)
    structlog.stdlib.get_logger().info("hello", k="v")
    assert "hello" in tty.getvalue()
    assert "\x1b[" in tty.getvalue()  # colours on a terminal
    with pytest.raises(json.JSONDecodeError):
        json.loads(tty.getvalue())


def test_text_format_off_a_tty_has_no_colours() -> None:
    out = io.StringIO()
    logs.configure_logging("info", "text", stream=out)
    structlog.stdlib.get_logger().info("hello")
    assert "hello" in out.getvalue()
    assert "\x1b[" not in out.getvalue()


def test_configure_twice_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    logs.configure_logging("INFO", "json", stream=first)
    logs.configure_logging("INFO", "json", stream=second)
    structlog.stdlib.get_logger().info("once")
    assert first.getvalue() == ""
    assert len(json_lines(second)) == 1


def test_a_logger_used_before_a_reconfigure_follows_it() -> None:
    """Loggers are cached on first use; level, format, stream and capture still apply later."""
    first, second = io.StringIO(), io.StringIO()
    logs.configure_logging("INFO", "json", stream=first)
    log = structlog.stdlib.get_logger("poller.cached")
    log.info("one")
    logs.configure_logging("WARNING", "text", stream=second)
    log.info("below the new level")
    log.warning("two")
    assert [e["event"] for e in json_lines(first)] == ["one"]
    assert "two" in second.getvalue() and "below the new level" not in second.getvalue()
    with structlog.testing.capture_logs() as captured:
        log.warning("three")
    assert [e["event"] for e in captured] == ["three"]


@pytest.mark.parametrize(("level", "fmt"), [("TRACE", "json"), ("INFO", "xml")])
def test_bad_arguments(level: str, fmt: str) -> None:
    with pytest.raises(ValueError, match="must be one of"):
        logs.configure_logging(level, fmt, stream=io.StringIO())


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_secrets_never_reach_the_output(fmt: str) -> None:
    redact.register_secret(SECRET)
    redact.register_secret(HIBOB_TOKEN)
    out = io.StringIO()
    logs.configure_logging("DEBUG", fmt, stream=out)
    log = structlog.stdlib.get_logger("poller.http")
    structlog.contextvars.bind_contextvars(cycle_id=f"c {SECRET}")

    log.info("request", url=SIGNED_URL, headers={"Authorization": f"Basic {HIBOB_TOKEN}"})
    log.info(
        "nested", data={"a": [SECRET, {"db": DB_URL}], "t": (SIGNED_URL,)}, obj=ValueError(SECRET)
    )
    log.info(f"formatted {SECRET} and %s", "positional")
    try:
        raise RuntimeError(f"upstream said {SECRET} at {SIGNED_URL} via {DB_URL}")
    except RuntimeError:
        log.exception("call.failed")
    try:
        raise KeyError(f"svc-user:hb-token-secret {HIBOB_TOKEN}")
    except KeyError:
        logging.getLogger("urllib3.connectionpool").exception("stdlib failure %s", SECRET)
    logging.getLogger("alembic").warning("X-API-KEY: %s", "some-other-key")

    output = out.getvalue()
    assert_clean(output)
    assert "some-other-key" not in output
    assert "Traceback" in output
    assert "?<redacted>" in output
    assert "poller:***@db.internal" in output
    assert "call.failed" in output
    if fmt == "json":
        assert len(json_lines(out)) == 6


def test_own_events_reach_every_root_handler(caplog: pytest.LogCaptureFixture) -> None:
    """The poller's events are logging records like any library's: a handler a deployer adds
    to the root logger (a file, an error tracker) and pytest's caplog receive them, already
    redacted."""
    redact.register_secret(SECRET)
    out = io.StringIO()
    logs.configure_logging("INFO", "json", stream=out)
    extra = logging.StreamHandler(io.StringIO())
    logging.getLogger().addHandler(extra)
    try:
        try:
            raise RuntimeError(SECRET)
        except RuntimeError:
            structlog.stdlib.get_logger("poller.sync").exception("failed", key=SECRET)
    finally:
        logging.getLogger().removeHandler(extra)
    (record,) = [r for r in caplog.records if r.name == "poller.sync"]
    assert record.levelno == logging.ERROR
    assert isinstance(record.msg, dict) and record.msg["event"] == "failed"
    assert record.msg["key"] == "***"
    assert SECRET not in caplog.text
    stream = extra.stream
    assert isinstance(stream, io.StringIO) and "failed" in stream.getvalue()
    assert SECRET not in stream.getvalue()
    (line,) = json_lines(out)
    assert line["event"] == "failed" and line["key"] == "***"
    assert SECRET not in out.getvalue()


def test_lines_from_both_paths_are_written_whole_from_many_threads() -> None:
    out = io.StringIO()
    logs.configure_logging("INFO", "json", stream=out)
    own = structlog.stdlib.get_logger("poller.threads")
    other = logging.getLogger("poller.stdlib")

    def write(n: int) -> None:
        for i in range(200):
            own.info("own", n=n, i=i, pad="x" * 300)
            other.warning("other %s %s", n, i)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = json_lines(out)  # each line parses: none was cut into by another
    assert len(lines) == 4 * 200 * 2
    assert sum(1 for line in lines if line["event"] == "own") == 800


def test_noisy_libraries_log_at_warning() -> None:
    out = io.StringIO()
    logs.configure_logging("DEBUG", "json", stream=out)
    logging.getLogger("apscheduler.scheduler").info("Added job")
    logging.getLogger("urllib3").debug("Starting new HTTPS connection")
    logging.getLogger("apscheduler").warning("missed run")
    logging.getLogger("poller.other").debug("mine")
    events = [line["event"] for line in json_lines(out)]
    assert events == ["missed run", "mine"]


# ------------------------------------------------------------------------------ redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SIGNED_URL, "https://bucket.s3.amazonaws.com/cv/brian.pdf?<redacted>"),
        (
            "GET http://127.0.0.1:8101/api?a=1#frag done",
            "GET http://127.0.0.1:8101/api?<redacted> done",
        ),
        ("no query https://api.hibob.com/v1/people", "no query https://api.hibob.com/v1/people"),
        (DB_URL, "postgresql+psycopg://poller:***@db.internal:5432/poller"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("http://127.0.0.1:8101/x@y", "http://127.0.0.1:8101/x@y"),
        ("Authorization: Basic dXNlcjp0b2tlbg==", "Authorization: Basic ***"),
        ("{'Authorization': 'Bearer abc.def'}", "{'Authorization': 'Bearer ***'}"),
        ('{"X-API-KEY": "k123"}', '{"X-API-KEY": "***"}'),
        ("x-api-key=k123 next", "x-api-key=*** next"),
        ("authorized user", "authorized user"),
    ],
)
def test_redact_shapes(text: str, expected: str) -> None:
    assert redact.redact(text) == expected


def test_redact_registered_secret_forms() -> None:
    redact.register_secret("p@ss w/rd+1")
    redact.register_secret(HIBOB_TOKEN)
    text = (
        "raw p@ss w/rd+1, quoted p%40ss%20w%2Frd%2B1, plus p%40ss+w%2Frd%2B1, "
        "b64 cEBzcyB3L3JkKzE=, hibob svc-user:hb-token-secret / hb-token-secret / "
        f"{HIBOB_TOKEN}"
    )
    masked = redact.redact(text)
    assert masked == "raw ***, quoted ***, plus ***, b64 ***, hibob *** / *** / ***"


def test_redact_ignores_short_and_empty_secrets() -> None:
    redact.register_secret("")
    redact.register_secret(None)
    redact.register_secret("abc")
    assert redact.redact("abc def") == "abc def"


def test_redact_clear() -> None:
    redact.register_secret(SECRET)
    assert redact.redact(SECRET) == "***"
    redact.clear_secrets()
    assert redact.redact(SECRET) == SECRET
