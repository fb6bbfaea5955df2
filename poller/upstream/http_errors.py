"""How an upstream answer, or a failed attempt, becomes one of the poller's errors.

``classify`` maps an unsuccessful status and body to the error tree; ``translate`` does the
same for a `requests` exception, with whether the request may have reached the server;
``server_wait`` reads the wait a server asked for. Messages are built from fixed texts and
the upstream's own short error key/message, cleaned by ``clean_text``: never a whole body,
a URL query string or a header.
"""

from __future__ import annotations

import email.utils
import json as jsonlib
import math
import re
import time
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple, Protocol

import requests
from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError

from poller import redact
from poller.errors import (
    EMPTY_BODY,
    HTML_BODY,
    AuthError,
    EmailAlreadyExists,
    InvalidResponse,
    NotFound,
    PermanentError,
    RateLimited,
    RetryableError,
    UpstreamError,
)
from poller.text import clean

MESSAGE_LIMIT = 300
EMAIL_EXISTS_KEY = "validations.email.alreadyexists"
# Error bodies are only mined for a message; no need to hold megabytes of them.
ERROR_BODY_LIMIT = 64 * 1024
# X-RateLimit-Reset values below this are read as "seconds from now", not a Unix epoch.
_EPOCH_THRESHOLD = 1_000_000_000

_URL_QUERY = re.compile(r"(?i)\b((?:https?|ftp)://[^\s?#\"'<>]*)[?#][^\s\"'<>]*")
_XML_CODE = re.compile(rb"<Code>([A-Za-z0-9_.-]{1,60})</Code>")


def clean_text(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """Make upstream text safe for messages: redact URL query strings and credentials
    (an error page may echo our own headers back), drop control characters, collapse
    whitespace and bound the length."""
    text = redact.redact(text).replace(f"?{redact.QUERY_MASK}", "?")
    return clean(_URL_QUERY.sub(r"\1?…", text), limit, ellipsis=True, printable=True)


def parse_number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def reset_delay(reset: float, now: float) -> float:
    """Seconds until an X-RateLimit-Reset value: an epoch, or a small delta some servers send."""
    delay = reset - now if reset >= _EPOCH_THRESHOLD else reset
    return max(0.0, delay)


def server_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait the server asked for: Retry-After (seconds or HTTP date), else
    X-RateLimit-Reset (epoch seconds). None when neither is usable."""
    lower = {k.lower(): v for k, v in headers.items()}
    now = time.time() if now is None else now
    retry_after = lower.get("retry-after")
    if retry_after is not None:
        seconds = parse_number(retry_after)
        if seconds is not None:
            return max(0.0, seconds)
        try:
            when = email.utils.parsedate_to_datetime(retry_after.strip())
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, when.timestamp() - now)
    reset = parse_number(lower.get("x-ratelimit-reset"))
    if reset is not None:
        return reset_delay(reset, now)
    return None


class ErrorDetail(NamedTuple):
    """What an error body says: a short message, its key (HiBob's key, JSON:API's code or
    title) and, for JSON:API, the query parameter it blames (``source.parameter``)."""

    message: str
    key: str | None = None
    parameter: str | None = None


def _error_detail(body: bytes, content_type: str) -> ErrorDetail:
    """The detail of an error body, never echoing a non-JSON body verbatim."""
    if not body.strip():
        return ErrorDetail(EMPTY_BODY)
    try:
        data: Any = jsonlib.loads(body)
    except (ValueError, RecursionError):
        data = None
    else:
        return _json_error_detail(data)
    head = body.lstrip()[:512].lower()
    if "html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html")):
        return ErrorDetail(HTML_BODY)
    code = _XML_CODE.search(body[:ERROR_BODY_LIMIT])
    if code:
        return ErrorDetail(f"XML error {code.group(1).decode()}", code.group(1).decode())
    return ErrorDetail(f"non-JSON body ({len(body)} bytes)")


def _text_or_none(value: object, limit: int) -> str | None:
    return clean_text(value, limit) or None if isinstance(value, str) else None


def _json_error_detail(data: Any) -> ErrorDetail:
    if not isinstance(data, dict):
        return ErrorDetail("unrecognised JSON error body")
    errors = data.get("errors")
    if isinstance(errors, list):  # Pinpoint / JSON:API: {"errors": [{"code", "title", ...}]}
        return _jsonapi_detail(errors)
    key = _text_or_none(data.get("key"), 120)
    error = _text_or_none(data.get("error"), MESSAGE_LIMIT)
    message = _text_or_none(data.get("message"), MESSAGE_LIMIT)
    # HiBob: {"key", "error", "args"}, or {"key", "error"}, or the Goals API's
    # {"statusCode", "error": "Bad Request", "message", "timestamp"}.
    texts = [t for t in (error, message) if t]
    if texts:
        return ErrorDetail(clean_text(": ".join(dict.fromkeys(texts))), key)
    if key:
        return ErrorDetail(key, key)
    return ErrorDetail("unrecognised JSON error body")


def _jsonapi_detail(errors: list[Any]) -> ErrorDetail:
    parts: list[str] = []
    key: str | None = None
    parameter: str | None = None
    for item in errors[:3]:
        if not isinstance(item, dict):
            continue
        title, detail = item.get("title"), item.get("detail")
        texts = [t for t in (title, detail) if isinstance(t, str) and t]
        if key is None:
            key = _text_or_none(item.get("code"), 120) or _text_or_none(title, 120)
        source = item.get("source")
        if parameter is None and isinstance(source, dict):
            parameter = _text_or_none(source.get("parameter"), 120)
        if texts:
            parts.append(": ".join(texts))
    if not parts:
        return ErrorDetail("unrecognised JSON error body", key, parameter)
    return ErrorDetail(clean_text("; ".join(parts)), key, parameter)


def classify(
    api: str,
    endpoint: str,
    status: int,
    body: bytes | str,
    headers: Mapping[str, str],
    *,
    now: float | None = None,
) -> UpstreamError:
    """Map an unsuccessful answer to the error tree. Pure apart from reading the wall
    clock for Retry-After dates when ``now`` is not given."""
    raw = body.encode("utf-8", "replace") if isinstance(body, str) else body
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    detail = _error_detail(raw, content_type)
    message = detail.message
    kw: dict[str, Any] = {
        "api": api,
        "endpoint": endpoint,
        "status": status,
        "key": detail.key,
        "parameter": detail.parameter,
    }
    if status == 429:
        return RateLimited(message, retry_after=server_wait(headers, now), **kw)
    kind: type[UpstreamError] = PermanentError
    if status in (401, 403):
        kind = AuthError
    elif status == 404:
        kind = NotFound
    elif status >= 500:
        kind = RetryableError
    elif 400 <= status < 500 and api == "hibob" and detail.key == EMAIL_EXISTS_KEY:
        kind = EmailAlreadyExists
    elif 300 <= status < 400:
        message = "unexpected redirect"
    elif not 400 <= status < 500:
        message = f"unexpected status ({message})"
    return kind(message, **kw)


# How a failed attempt may be retried: "unsent" never reached the server (always safe),
# "sent" may have been applied (only idempotent requests), "final" never.
Delivery = Literal["unsent", "sent", "final"]


class _Body(Protocol):
    """A read answer (``poller.upstream.http.Answer``)."""

    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[Any] = [exc]
    while todo and len(seen) < 10:
        item = todo.pop()
        if isinstance(item, BaseException) and item not in seen:
            seen.append(item)
            todo.extend(item.args)
            todo.extend(getattr(item, name, None) for name in ("reason", "__cause__"))
    return seen


def translate(
    exc: requests.RequestException,
    *,
    api: str,
    endpoint: str,
    connect_timeout: float,
    read_timeout: float,
) -> tuple[UpstreamError, Delivery]:
    """A `requests` exception as a poller error, with whether the request may have been sent.

    Only fixed texts and the configured timeouts go into the message: the exception
    itself embeds the full URL, query string included.
    """
    chain = _chain(exc)
    kind: type[UpstreamError] = RetryableError
    delivery: Delivery = "sent"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        message, delivery = f"connect timed out after {connect_timeout:g}s", "unsent"
    elif isinstance(exc, requests.exceptions.SSLError):
        # A certificate problem does not heal within seconds: no in-process retry.
        message, delivery = "TLS handshake failed", "final"
    elif isinstance(exc, requests.exceptions.ReadTimeout) or any(
        isinstance(e, ReadTimeoutError) for e in chain
    ):
        message = f"read timed out after {read_timeout:g}s"
    elif isinstance(
        exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)
    ):
        message = "response body cut off or undecodable"
    elif isinstance(
        exc,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidHeader,
            requests.exceptions.URLRequired,
        ),
    ):
        kind, message, delivery = PermanentError, "invalid request URL or header", "final"
    elif isinstance(exc, requests.exceptions.ConnectionError):
        message = "connection reset or closed by the server"
        # urllib3 raises ConnectTimeoutError (NewConnectionError and NameResolutionError are
        # ones) before any byte left; anything else may have reached the server.
        unsent = [e for e in chain if isinstance(e, ConnectTimeoutError)]
        if unsent:
            delivery = "unsent"
            text = " ".join(str(e) for e in unsent).lower()
            message = (
                "connection refused"
                if "refused" in text
                else "could not resolve host"
                if "resolve" in text
                else "could not connect"
            )
    else:
        message = f"request failed ({type(exc).__name__})"
    return kind(message, api=api, endpoint=endpoint, status=None), delivery


def parse_json(resp: _Body, api: str, endpoint: str) -> object:
    """The decoded JSON body; an empty or malformed body is InvalidResponse."""
    body = resp.content or b""
    if not body.strip():
        reason = EMPTY_BODY
    else:
        try:
            return jsonlib.loads(body)
        except (ValueError, RecursionError):
            reason = "body is not valid JSON"
    raise InvalidResponse(
        f"{reason} (HTTP {resp.status_code})",
        api=api,
        endpoint=endpoint,
        status=resp.status_code,
    )
