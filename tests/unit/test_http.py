"""The HTTP layer: error classification, retry policy, pacing, size cap, redaction."""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
import requests
import responses
from structlog.testing import capture_logs
from urllib3.exceptions import (
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
)

from poller import metrics
from poller.errors import (
    AuthError,
    EmailAlreadyExists,
    InvalidResponse,
    NotFound,
    PermanentError,
    RateLimited,
    RetryableError,
    UpstreamError,
)
from poller.upstream.http import HttpClient
from poller.upstream.http_errors import classify, clean_text, parse_json
from poller.upstream.pacing import Pacer
from poller.upstream.transport import make_session, proxies_for

BASE = "http://127.0.0.1:9/api/v1"
WALL0 = 1_700_000_000.0


class FakeTime:
    """Monotonic clock, wall clock and sleep that only move when slept."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL0 + self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class TopRng(random.Random):
    """Full jitter at its upper bound, so the computed caps are visible."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def client(fake: FakeTime, **kw: Any) -> HttpClient:
    options: dict[str, Any] = {
        "headers": {"X-API-KEY": "sekret-key-123"},
        "sleep": fake.sleep,
        "clock": fake.clock,
        "wall_clock": fake.wall,
        "rng": TopRng(),
    }
    options.update(kw)
    return HttpClient(options.pop("api", "pinpoint"), BASE, **options)


def counter(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


# --- classify: the one status -> error table -------------------------------------------

HIBOB_EXISTS = b'{"key": "validations.email.alreadyexists", "error": "Email already exists"}'
PINPOINT_422 = b'{"errors": [{"status": "422", "title": "Invalid", "detail": "email is bad"}]}'
S3_DENIED = b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>x</Message></Error>"
RETRY_DATE = format_datetime(datetime.fromtimestamp(WALL0 + 42, UTC), usegmt=True)

CLASSIFY_TABLE = [
    # api, status, body, headers, error type, message contains, key, retry_after
    ("hibob", 401, b"", {}, AuthError, "empty body", None, None),
    (
        "pinpoint",
        403,
        b'{"errors":[{"title":"Forbidden","detail":"integration not enabled"}]}',
        {},
        AuthError,
        "Forbidden: integration not enabled",
        "Forbidden",
        None,
    ),
    (
        "pinpoint",
        404,
        b'{"errors":[{"title":"Not Found"}]}',
        {},
        NotFound,
        "Not Found",
        "Not Found",
        None,
    ),
    ("hibob", 429, b"", {"Retry-After": "7"}, RateLimited, "empty body", None, 7.0),
    ("hibob", 429, b"", {"retry-after": RETRY_DATE}, RateLimited, "empty body", None, 42.0),
    (
        "hibob",
        429,
        b"",
        {"X-RateLimit-Reset": str(int(WALL0 + 13))},
        RateLimited,
        "empty body",
        None,
        13.0,
    ),
    ("pinpoint", 429, b"", {}, RateLimited, "empty body", None, None),
    (
        "pinpoint",
        500,
        b"<!DOCTYPE html><html><body>oops</body></html>",
        {},
        RetryableError,
        "HTML error page",
        None,
        None,
    ),
    (
        "hibob",
        502,
        b"<html>bad gateway</html>",
        {"Content-Type": "text/html"},
        RetryableError,
        "HTML error page",
        None,
        None,
    ),
    ("hibob", 503, b"", {}, RetryableError, "empty body", None, None),
    (
        "hibob",
        400,
        HIBOB_EXISTS,
        {},
        EmailAlreadyExists,
        "Email already exists",
        "validations.email.alreadyexists",
        None,
    ),
    (
        "pinpoint",
        400,
        HIBOB_EXISTS,
        {},
        PermanentError,
        "Email already exists",
        "validations.email.alreadyexists",
        None,
    ),
    (
        "hibob",
        400,
        b'{"key": "validations.list.invalid", "error": "site: no such item"}',
        {},
        PermanentError,
        "site: no such item",
        "validations.list.invalid",
        None,
    ),
    ("pinpoint", 422, PINPOINT_422, {}, PermanentError, "Invalid: email is bad", "Invalid", None),
    ("pinpoint", 409, b'{"message": "conflict"}', {}, PermanentError, "conflict", None, None),
    (
        "hibob",
        400,
        b"plain text from a proxy",
        {},
        PermanentError,
        "non-JSON body (23 bytes)",
        None,
        None,
    ),
    ("hibob", 400, b"[1, 2]", {}, PermanentError, "unrecognised JSON error body", None, None),
    ("cv", 403, S3_DENIED, {}, AuthError, "XML error AccessDenied", "AccessDenied", None),
    (
        "pinpoint",
        302,
        b"",
        {"Location": "https://elsewhere.example/"},
        PermanentError,
        "unexpected redirect",
        None,
        None,
    ),
    # JSON:API with a code: the code is the key (pinpoint.md's recorded shape).
    (
        "pinpoint",
        404,
        b'{"errors":[{"code":"not_found","status":"404","title":"Not Found",'
        b'"detail":"Specified Record Not Found"}]}',
        {},
        NotFound,
        "Not Found: Specified Record Not Found",
        "not_found",
        None,
    ),
    # HiBob's shapes: {key, error, args}, {key, error}, and the Goals API's detailed one.
    (
        "hibob",
        400,
        b'{"key":"validations.field.invalid","error":"not a valid title definition",'
        b'"args":["Wizard"]}',
        {},
        PermanentError,
        "not a valid title definition",
        "validations.field.invalid",
        None,
    ),
    (
        "hibob",
        400,
        b'{"statusCode":400,"error":"Bad Request","message":"work.title is not valid",'
        b'"timestamp":"2026-12-04T10:00:00Z"}',
        {},
        PermanentError,
        "Bad Request: work.title is not valid",
        None,
        None,
    ),
    (
        "hibob",
        400,
        b'{"key":"validations.only.key"}',
        {},
        PermanentError,
        "validations.only.key",
        "validations.only.key",
        None,
    ),
]


def test_classify_reads_the_parameter_a_jsonapi_error_blames() -> None:
    body = (
        b'{"errors":[{"code":"invalid_filter","status":"400","title":"Bad Request",'
        b'"detail":"unsupported operator gte",'
        b'"source":{"parameter":"filter[updated_at][gte]"}}]}'
    )
    err = classify("pinpoint", "GET /applications", 400, body, {})
    assert (err.parameter, err.key) == ("filter[updated_at][gte]", "invalid_filter")
    assert "unsupported operator gte" in err.message
    assert classify("pinpoint", "GET /x", 400, b'{"errors":[{"title":"x"}]}', {}).parameter is None


@pytest.mark.parametrize(
    "row", CLASSIFY_TABLE, ids=[f"{r[0]}-{r[1]}-{r[4].__name__}" for r in CLASSIFY_TABLE]
)
def test_classify_table(row: tuple[Any, ...]) -> None:
    api, status, body, headers, kind, text, key, retry_after = row
    err = classify(api, "POST /people", status, body, headers, now=WALL0)
    assert type(err) is kind
    assert text in err.message
    assert (err.api, err.endpoint, err.status, err.key) == (api, "POST /people", status, key)
    if isinstance(err, RateLimited):
        expected = None if retry_after is None else pytest.approx(retry_after)
        assert err.retry_after == expected


def test_classify_accepts_text_and_sanitises() -> None:
    link = "https://s3.example/cv.pdf?X-Amz-Signature=abc"
    noisy = '{"key": "k", "error": "bad\\u0000\\u001b[31m ' + link + " " + "x" * 500 + '"}'
    err = classify("hibob", "POST /people", 400, noisy, {})
    assert "\x00" not in err.message and "\x1b" not in err.message
    assert "X-Amz-Signature" not in str(err) and "https://s3.example/cv.pdf?…" in err.message
    assert len(err.message) <= 300


def test_clean_text_bounds_and_strips() -> None:
    assert clean_text("a\tb\n\nc\u202e") == "a b c"
    assert clean_text("y" * 400, 10) == "y" * 9 + "…"


# --- retry policy --------------------------------------------------------------------


def test_get_retries_5xx_with_capped_exponential_backoff(
    mocked: responses.RequestsMock, fake: FakeTime
) -> None:
    for _ in range(3):
        mocked.get(f"{BASE}/x", status=503)
    mocked.get(f"{BASE}/x", json={"ok": True})
    retries = counter("poller_retries_total", api="pinpoint", endpoint="GET /x")
    http = client(fake, backoff_base=1, backoff_max=3)
    resp = http.request("GET", "/x", endpoint="GET /x")
    assert resp.json() == {"ok": True}
    assert fake.sleeps == [1, 2, 3]  # jitter drawn from [0, min(max, base * 2**n)]
    assert counter("poller_retries_total", api="pinpoint", endpoint="GET /x") == retries + 3


def test_full_jitter_draws_below_the_cap(mocked: responses.RequestsMock, fake: FakeTime) -> None:
    mocked.get(f"{BASE}/x", status=500)
    http = client(fake, rng=random.Random(7), max_retries=6, backoff_base=0.5, backoff_max=4)
    with pytest.raises(RetryableError):
        http.request("GET", "/x", endpoint="GET /x")
    caps = [0.5, 1, 2, 4, 4, 4]
    assert len(fake.sleeps) == 6
    assert all(0 <= wait <= cap for wait, cap in zip(fake.sleeps, caps, strict=True))


def test_retries_exhausted_raise_the_mapped_error(
    mocked: responses.RequestsMock, fake: FakeTime
) -> None:
    mocked.get(f"{BASE}/x", status=502, json={"errors": [{"title": "Bad Gateway"}]})
    with pytest.raises(RetryableError) as info:
        client(fake, max_retries=2).request("GET", "/x", endpoint="GET /x")
    assert len(mocked.calls) == 3
    assert info.value.status == 502 and info.value.key == "Bad Gateway"


def test_retry_after_seconds_is_honoured(mocked: responses.RequestsMock, fake: FakeTime) -> None:
    mocked.get(f"{BASE}/x", status=429, headers={"Retry-After": "7"})
    mocked.get(f"{BASE}/x", json={})
    limited = counter("poller_rate_limited_total", api="pinpoint", endpoint="GET /x")
    client(fake).request("GET", "/x", endpoint="GET /x")
    assert fake.sleeps == [7]
    assert counter("poller_rate_limited_total", api="pinpoint", endpoint="GET /x") == limited + 1


def test_retry_after_http_date_is_honoured(mocked: responses.RequestsMock, fake: FakeTime) -> None:
    when = format_datetime(datetime.fromtimestamp(fake.wall() + 20, UTC), usegmt=True)
    mocked.get(f"{BASE}/x", status=503, headers={"Retry-After": when})
    mocked.get(f"{BASE}/x", json={})
    client(fake).request("GET", "/x", endpoint="GET /x")
    assert fake.sleeps == [pytest.approx(20)]


def test_x_ratelimit_reset_is_honoured(mocked: responses.RequestsMock, fake: FakeTime) -> None:
    reset = str(int(fake.wall() + 12))
    mocked.post(
        f"{BASE}/people/search",
        status=429,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
    )
    mocked.post(f"{BASE}/people/search", json={"employees": []})
    client(fake, api="hibob").request(
        "POST", "/people/search", endpoint="POST /people/search", idempotent=True, json={}
    )
    # The retry waits 12 s; the corrected pacer then lets the next attempt through at once.
    assert fake.sleeps == [12]


def test_server_wait_beyond_the_bound_is_raised_for_the_caller(
    mocked: responses.RequestsMock, fake: FakeTime
) -> None:
    mocked.get(f"{BASE}/x", status=429, headers={"Retry-After": "600"})
    with pytest.raises(RateLimited) as info:
        client(fake, max_server_wait=60).request("GET", "/x", endpoint="GET /x")
    assert info.value.retry_after == 600
    assert len(mocked.calls) == 1 and fake.sleeps == []


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, PermanentError),
        (401, AuthError),
        (403, AuthError),
        (404, NotFound),
        (422, PermanentError),
    ],
)
def test_no_retry_on_client_errors(
    mocked: responses.RequestsMock, fake: FakeTime, status: int, kind: type[UpstreamError]
) -> None:
    mocked.get(f"{BASE}/x", status=status)
    with pytest.raises(kind):
        client(fake).request("GET", "/x", endpoint="GET /x")
    assert len(mocked.calls) == 1 and fake.sleeps == []


def refused() -> requests.ConnectionError:
    text = "Failed to establish a new connection: [Errno 111] Connection refused"
    reason = NewConnectionError(None, text)  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, "/x", reason))  # type: ignore[arg-type]


def unreachable(reason: Exception) -> requests.ConnectionError:
    return requests.ConnectionError(MaxRetryError(None, "/x", reason))  # type: ignore[arg-type]


def reset() -> requests.ConnectionError:
    return requests.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionResetError(104, "reset by peer"))
    )


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 502},
        {"body": requests.exceptions.ReadTimeout("read timed out")},
        {"body": reset()},
    ],
    ids=["502", "read-timeout", "connection-reset"],
)
def test_non_idempotent_post_is_not_retried_once_it_may_have_arrived(
    mocked: responses.RequestsMock, fake: FakeTime, failure: dict[str, Any]
) -> None:
    mocked.post(f"{BASE}/comments", **failure)
    with pytest.raises(RetryableError):
        client(fake).request("POST", "/comments", endpoint="POST /comments", json={})
    assert len(mocked.calls) == 1 and fake.sleeps == []


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 429},
        {"body": refused()},
        {"body": unreachable(NewConnectionError(None, ""))},  # type: ignore[arg-type]
        {"body": requests.exceptions.ConnectTimeout("connect timed out")},
    ],
    ids=["429", "connection-refused", "could-not-connect", "connect-timeout"],
)
def test_non_idempotent_post_is_retried_when_nothing_was_applied(
    mocked: responses.RequestsMock, fake: FakeTime, failure: dict[str, Any]
) -> None:
    mocked.post(f"{BASE}/comments", **failure)
    mocked.post(f"{BASE}/comments", status=201, json={"data": {"id": "1"}})
    resp = client(fake).request("POST", "/comments", endpoint="POST /comments", json={})
    assert resp.status_code == 201
    assert len(mocked.calls) == 2 and fake.sleeps == [0.5]


def test_idempotent_post_is_retried_on_5xx_and_read_timeout(
    mocked: responses.RequestsMock, fake: FakeTime
) -> None:
    mocked.post(f"{BASE}/people", status=502)
    mocked.post(f"{BASE}/people", body=requests.exceptions.ReadTimeout("slow"))
    mocked.post(f"{BASE}/people", json={"id": "1"})
    http = client(fake, api="hibob")
    resp = http.request("POST", "/people", endpoint="POST /people", idempotent=True, json={})
    assert resp.json() == {"id": "1"}
    assert fake.sleeps == [0.5, 1.0]


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (requests.exceptions.ConnectTimeout("x"), "connect timed out after 5s"),
        (requests.exceptions.ReadTimeout("x"), "read timed out after 10s"),
        (refused(), "connection refused"),
        (unreachable(NewConnectionError(None, "")), "could not connect"),  # type: ignore[arg-type]
        (
            unreachable(NameResolutionError("pinpoint.invalid", None, socket.gaierror())),  # type: ignore[arg-type]
            "could not resolve host",
        ),
        (reset(), "connection reset or closed by the server"),
        (requests.exceptions.SSLError("x"), "TLS handshake failed"),
        (requests.exceptions.ChunkedEncodingError("x"), "response body cut off or undecodable"),
    ],
)
def test_transport_errors_become_retryable_without_status(
    mocked: responses.RequestsMock, fake: FakeTime, exc: Exception, text: str
) -> None:
    mocked.get(f"{BASE}/x", body=exc)
    before = counter(
        "poller_upstream_requests_total", api="pinpoint", endpoint="GET /y", status="error"
    )
    with pytest.raises(RetryableError) as info:
        client(fake, max_retries=0).request("GET", "/x", endpoint="GET /y")
    assert info.value.status is None and info.value.message == text
    after = counter(
        "poller_upstream_requests_total", api="pinpoint", endpoint="GET /y", status="error"
    )
    assert after == before + 1


def test_tls_failure_is_not_retried_in_process(
    mocked: responses.RequestsMock, fake: FakeTime
) -> None:
    mocked.get(f"{BASE}/x", body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(RetryableError):
        client(fake).request("GET", "/x", endpoint="GET /x")
    assert len(mocked.calls) == 1


def test_each_attempt_is_counted_by_status(mocked: responses.RequestsMock, fake: FakeTime) -> None:
    mocked.get(f"{BASE}/count", status=500)
    mocked.get(f"{BASE}/count", json={})

    def seen(status: str) -> float:
        return counter(
            "poller_upstream_requests_total", api="pinpoint", endpoint="GET /count", status=status
        )

    before = (seen("500"), seen("200"))
    client(fake).request("GET", "/count", endpoint="GET /count")
    assert (seen("500"), seen("200")) == (before[0] + 1, before[1] + 1)


# --- secrets never leak ---------------------------------------------------------------

SECRET_URL = "https://files.example/cv.pdf?X-Amz-Signature=topsecret-sig"


def _all_text(err: BaseException) -> str:
    parts = [str(err), repr(err), *map(str, err.args), str(vars(err))]
    assert err.__cause__ is None and err.__context__ is None
    return " ".join(parts)


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ReadTimeout(f"HTTPSConnectionPool: Read timed out. {SECRET_URL}"),
        requests.exceptions.ConnectionError(f"Max retries exceeded with url: {SECRET_URL}"),
        requests.exceptions.InvalidURL(f"bad {SECRET_URL}"),
    ],
)
def test_errors_and_logs_never_carry_secrets(
    mocked: responses.RequestsMock, fake: FakeTime, exc: Exception
) -> None:
    mocked.get(f"{BASE}/x", body=exc)
    http = client(
        fake,
        headers={"X-API-KEY": "sekret-key-123", "Authorization": "Basic dG9rZW4tdmFsdWU="},
        max_retries=0,
    )
    with capture_logs() as logs, pytest.raises(UpstreamError) as info:
        http.request("GET", "/x", endpoint="GET /x", params={"token": "query-secret"})
    text = _all_text(info.value) + repr(logs) + repr(http)
    for secret in ("sekret-key-123", "dG9rZW4tdmFsdWU=", "query-secret", "topsecret-sig"):
        assert secret not in text


def test_classify_never_echoes_headers_or_query_strings() -> None:
    headers = {"X-API-KEY": "sekret-key-123", "Authorization": "Basic dG9rZW4tdmFsdWU="}
    for status in (400, 401, 403, 404, 429, 500):
        for body in (
            b"",
            f'{{"error": "fetch {SECRET_URL} failed"}}'.encode(),
            f"<html>{SECRET_URL}</html>".encode(),
            SECRET_URL.encode(),
        ):
            text = _all_text(classify("hibob", "POST /x", status, body, headers))
            assert "sekret-key-123" not in text and "dG9rZW4tdmFsdWU=" not in text
            assert "topsecret-sig" not in text


# --- logging --------------------------------------------------------------------------


def test_one_log_event_per_attempt_without_query_or_headers(
    mocked: responses.RequestsMock, fake: FakeTime
) -> None:
    mocked.get(f"{BASE}/applications", status=500)
    mocked.get(f"{BASE}/applications", json={})
    with capture_logs() as logs:
        client(fake).request(
            "GET", "/applications", endpoint="GET /applications", params={"filter[stage_id]": "1"}
        )
    events = [e for e in logs if e["event"] == "http.request"]
    assert [(e["status"], e["attempt"]) for e in events] == [(500, 1), (200, 2)]
    for e in events:
        assert e["path"] == "/applications" and e["method"] == "GET"
        assert {"api", "endpoint", "ms"} <= e.keys()
    assert "sekret-key-123" not in repr(logs) and "stage_id" not in repr(logs)


# --- size cap, JSON parsing, redirects, absolute GETs ---------------------------------


@pytest.mark.parametrize("declare_length", [True, False])
def test_response_size_cap(fake: FakeTime, declare_length: bool) -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.Response(
                "GET", f"{BASE}/big", body=b"x" * 2000, auto_calculate_content_length=declare_length
            )
        )
        with pytest.raises(InvalidResponse, match="larger than 1000 bytes"):
            client(fake, max_response_bytes=1000).request("GET", "/big", endpoint="GET /big")
        assert len(rsps.calls) == 1  # never retried


def test_body_at_the_cap_is_accepted(mocked: responses.RequestsMock, fake: FakeTime) -> None:
    mocked.get(f"{BASE}/ok", body=b"y" * 1000)
    resp = client(fake, max_response_bytes=1000).request("GET", "/ok", endpoint="GET /ok")
    assert resp.content == b"y" * 1000


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"", "empty body (HTTP 200)"),
        (b"  \n", "empty body (HTTP 200)"),
        (b"{nope", "body is not valid JSON (HTTP 200)"),
        (b"[" * 100_000, "body is not valid JSON (HTTP 200)"),
    ],
)
def test_parse_json_errors_name_endpoint_and_status(
    mocked: responses.RequestsMock, fake: FakeTime, body: bytes, text: str
) -> None:
    mocked.get(f"{BASE}/j", body=body)
    resp = client(fake).request("GET", "/j", endpoint="GET /j")
    with pytest.raises(InvalidResponse) as info:
        parse_json(resp, "pinpoint", "GET /j")
    assert info.value.message == text and info.value.endpoint == "GET /j"


def test_api_redirects_are_not_followed(mocked: responses.RequestsMock, fake: FakeTime) -> None:
    mocked.get(f"{BASE}/x", status=302, headers={"Location": "http://127.0.0.2:9/steal"})
    with pytest.raises(PermanentError, match="unexpected redirect"):
        client(fake).request("GET", "/x", endpoint="GET /x")
    assert len(mocked.calls) == 1


def test_get_absolute_sends_no_auth_and_returns_redirects(
    mocked: responses.RequestsMock, fake: FakeTime
) -> None:
    mocked.get("http://127.0.0.2:9/cv.pdf", status=302, headers={"Location": "/other.pdf"})
    http = client(fake, headers={"X-API-KEY": "sekret-key-123", "Authorization": "Basic x"})
    resp = http.get_absolute("http://127.0.0.2:9/cv.pdf?sig=1", endpoint="GET cv")
    assert resp.status_code == 302
    sent = mocked.calls[0].request.headers
    assert "X-API-KEY" not in sent and "Authorization" not in sent
    assert sent["User-Agent"] == "pinpoint-hibob-poller"


def test_path_must_be_relative_to_the_base(fake: FakeTime) -> None:
    with pytest.raises(ValueError, match="path"):
        client(fake).request("GET", "x", endpoint="GET /x")


def test_make_session_verifies_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert make_session().verify is True
    session = make_session(ca_bundle="/etc/ssl/custom.pem", user_agent="ua/1")
    assert session.verify == "/etc/ssl/custom.pem"
    assert session.headers["User-Agent"] == "ua/1"


def test_make_session_reads_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/platform.pem")
    session = make_session()
    assert session.trust_env is False  # no per-request proxy/.netrc lookups
    assert session.verify == "/etc/ssl/platform.pem"  # the platform CA bundle still applies
    assert make_session(ca_bundle="/etc/ssl/custom.pem").verify == "/etc/ssl/custom.pem"


def test_proxies_come_from_the_environment_with_no_proxy_applied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.example:3128")
    monkeypatch.setenv("NO_PROXY", "api.hibob.com")
    proxies_for.cache_clear()
    try:
        assert proxies_for("https", "acme.pinpointhq.com")["https"] == (
            "http://proxy.corp.example:3128"
        )
        assert proxies_for("https", "api.hibob.com") == {}
    finally:
        proxies_for.cache_clear()


@responses.activate
def test_requests_go_through_the_environment_proxy(
    fake: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.corp.example:3128")
    proxies_for.cache_clear()
    responses.add(responses.GET, f"{BASE}/x", json={})
    try:
        client(fake).request("GET", "/x", endpoint="GET /x")
    finally:
        proxies_for.cache_clear()
    assert responses.calls[0].request.req_kwargs["proxies"]["http"] == (
        "http://proxy.corp.example:3128"
    )


# --- pacing ---------------------------------------------------------------------------


def test_pacer_spaces_calls_at_its_rate(fake: FakeTime) -> None:
    pacer = Pacer(2, clock=fake.clock, sleep=fake.sleep)
    for _ in range(3):
        pacer.acquire()
    assert fake.sleeps == [0.5, 0.5]


def test_pacer_allows_a_burst_then_refills(fake: FakeTime) -> None:
    pacer = Pacer(1, burst=3, clock=fake.clock, sleep=fake.sleep)
    for _ in range(4):
        pacer.acquire()
    assert fake.sleeps == [1.0]
    fake.now += 10  # idle: the bucket refills, but only up to the burst
    for _ in range(4):
        pacer.acquire()
    assert fake.sleeps == [1.0, 1.0]


def test_unpaced_pacer_never_waits(fake: FakeTime) -> None:
    pacer = Pacer(0, clock=fake.clock, sleep=fake.sleep)
    for _ in range(50):
        pacer.acquire()
    assert fake.sleeps == []


def test_pacer_reservations_are_thread_safe() -> None:
    waits: list[float] = []
    lock = threading.Lock()

    def record(seconds: float) -> None:
        with lock:
            waits.append(seconds)

    pacer = Pacer(4, clock=lambda: 0.0, sleep=record)  # time stands still: pure reservations
    threads = [threading.Thread(target=pacer.acquire) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == [pytest.approx(n / 4) for n in range(1, 20)]


@pytest.mark.parametrize(
    ("limit", "remaining", "reset_in", "wait"),
    [
        (50, 0, 30, 30.0),
        (50, 4, 30, 6.0),
        (50, 30, 30, None),
        (None, 0, 10, 10.0),
        (50, 0, 100_000, 120.0),
        (50, 0, -5, None),
    ],
)
def test_pacer_correction_from_rate_limit_headers(
    fake: FakeTime, limit: int | None, remaining: int, reset_in: float, wait: float | None
) -> None:
    pacer = Pacer(0, clock=fake.clock, sleep=fake.sleep, wall_clock=fake.wall)
    pacer.correct(limit, remaining, fake.wall() + reset_in)
    pacer.acquire()
    assert fake.sleeps == ([] if wait is None else [pytest.approx(wait)])


def test_pacer_correction_accepts_delta_seconds(fake: FakeTime) -> None:
    pacer = Pacer(0, clock=fake.clock, sleep=fake.sleep, wall_clock=fake.wall)
    pacer.correct(10, 0, 15)  # a small number is "seconds from now", not 1970
    pacer.acquire()
    assert fake.sleeps == [15]


def test_client_paces_by_endpoint_and_host(mocked: responses.RequestsMock, fake: FakeTime) -> None:
    mocked.get(f"{BASE}/a", json={})
    mocked.get(f"{BASE}/b", json={})
    pacers = {
        "GET /a": Pacer(0.5, clock=fake.clock, sleep=fake.sleep),
        "*": Pacer(4, clock=fake.clock, sleep=fake.sleep),
    }
    http = client(fake, pacers=pacers)
    http.request("GET", "/a", endpoint="GET /a")
    http.request("GET", "/a", endpoint="GET /a")  # endpoint pacer: 2 s apart
    http.request("GET", "/b", endpoint="GET /b")  # host pacer only: 0.25 s apart
    http.request("GET", "/b", endpoint="GET /b")
    assert fake.sleeps == [2.0, 0.25, 0.25]


def test_rate_limit_headers_correct_the_endpoint_pacer(
    mocked: responses.RequestsMock, fake: FakeTime
) -> None:
    reset = str(int(fake.wall() + 30))
    mocked.post(
        f"{BASE}/people",
        json={"id": "1"},
        headers={
            "X-RateLimit-Limit": "10",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset,
        },
    )
    mocked.post(f"{BASE}/people", json={"id": "2"})
    http = client(fake, api="hibob")  # no pacer configured: the headers still count
    http.request("POST", "/people", endpoint="POST /people", json={})
    http.request("POST", "/people", endpoint="POST /people", json={})
    assert fake.sleeps == [30]


def test_oversized_error_body_still_classifies_by_status(
    mocked: responses.RequestsMock, fake: FakeTime
) -> None:
    mocked.get(f"{BASE}/x", status=404, body=b'{"error": "' + b"z" * 100_000 + b'"}')
    with pytest.raises(NotFound) as info:
        client(fake).request("GET", "/x", endpoint="GET /x")
    assert info.value.message == "non-JSON body (65536 bytes)"
