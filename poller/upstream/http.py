"""The HTTP layer shared by the Pinpoint and HiBob clients.

One place owns timeouts, retries, pacing, size caps, metrics and the translation of
`requests` exceptions into the poller's error tree (the rules are in ``http_errors``, the
token bucket in ``pacing``). Nothing else in the package catches `requests` exceptions.

Secrets stay out of everything this module emits: log events carry the path without its
query string and never headers; error messages are built from the API name, the endpoint
template, the status and the upstream's own error key/message (with any URL query string
in it redacted). `requests` exceptions embed full URLs, so they are translated and never
chained: the poller's errors are raised outside the `except` block, leaving no
``__context__`` behind.
"""

from __future__ import annotations

import io
import json as jsonlib
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol, cast
from urllib.parse import urlsplit

import requests
import structlog
from requests.utils import check_header_validity

from poller import metrics, redact
from poller.errors import (
    InvalidResponse,
    RateLimited,
    RetryableError,
    UpstreamError,
)
from poller.upstream import transport
from poller.upstream.http_errors import (
    ERROR_BODY_LIMIT,
    Delivery,
    classify,
    parse_number,
    server_wait,
    translate,
)
from poller.upstream.pacing import Clock, Pacer, Sleep, header_int

log = structlog.get_logger("poller.http")

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD"})
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key"})


class StreamedBody(Protocol):
    """A request body read as it is sent, of a length known up front (so it goes out with a
    Content-Length, not chunked), e.g. requests_toolbelt's MultipartEncoder."""

    content_type: str

    @property
    def len(self) -> int: ...

    def read(self, size: int = -1) -> bytes: ...


# A fresh body for each attempt: a retry must send it whole again, from its first byte.
BodyFactory = Callable[[], StreamedBody]


@dataclass(frozen=True)
class Answer:
    """A successful answer, its body read in full (and bounded by the size cap)."""

    status_code: int
    headers: Mapping[str, str] = field(repr=False)
    content: bytes = field(repr=False)

    def json(self) -> Any:
        return jsonlib.loads(self.content)


@dataclass(frozen=True)
class _Failure:
    """A failed attempt: the error, whether it may be retried, and any server-asked wait."""

    error: UpstreamError
    delivery: Delivery
    status: int | None = None
    wait: float | None = None


def _sans_query(path: str) -> str:
    return path.split("?", 1)[0].split("#", 1)[0]


class HttpClient:
    """Requests to one API: auth headers, timeouts, retries, pacing, size cap, metrics.

    ``max_retries`` counts retries after the first attempt. ``max_server_wait`` bounds an
    in-process wait the server asks for (Retry-After, X-RateLimit-Reset); a longer ask is
    raised at once (as RateLimited with ``retry_after``) so the caller can reschedule.
    """

    def __init__(
        self,
        api: str,
        base_url: str,
        *,
        headers: dict[str, str],
        session: requests.Session | None = None,
        connect_timeout: float = 5,
        read_timeout: float = 10,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 30,
        pacers: dict[str, Pacer] | None = None,
        max_response_bytes: int = 5_000_000,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
        max_server_wait: float = 60,
        wall_clock: Clock = time.time,
    ) -> None:
        self.api = api
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        for name, value in headers.items():
            if name.lower() in _CREDENTIAL_HEADERS:
                # Masked wherever it shows up, e.g. echoed in an upstream error body.
                redact.register_secret(value.split(" ", 1)[-1])
        _check_headers(self._headers)
        self._session = session if session is not None else transport.make_session()
        self._timeout = (connect_timeout, read_timeout)
        self._max_retries = max(0, max_retries)
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._pacers = dict(pacers or {})
        self._pacers_lock = threading.Lock()
        self._max_bytes = max_response_bytes
        self._sleep = sleep
        self._clock = clock
        self._wall = wall_clock
        self._rng = rng if rng is not None else random.Random()
        self._max_server_wait = max_server_wait

    def __repr__(self) -> str:  # the headers hold credentials: keep them out
        return f"HttpClient(api={self.api!r}, base_url={self.base_url!r})"

    def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        idempotent: bool | None = None,
        params: dict[str, Any] | None = None,
        json: object | None = None,
        data: BodyFactory | None = None,
        headers: dict[str, str] | None = None,
        accept: frozenset[int] = frozenset(),
    ) -> Answer:
        """Call ``base_url + path``; the answer's body is read whole, up to the size cap.
        Redirects are not followed: requests would carry custom auth headers (X-API-KEY) to
        the new host, and the APIs don't redirect.

        ``data`` makes a streamed body (and its Content-Type); it is called once per
        attempt, so that a retry sends the whole body again. ``accept``: statuses that are
        answers, not errors (HiBob's 304 "nothing changed")."""
        if not path.startswith("/"):
            raise ValueError("path must start with '/'")
        answer = self._send(
            method.upper(),
            self.base_url + path,
            log_path=_sans_query(path),
            endpoint=endpoint,
            idempotent=idempotent,
            options={
                "params": params,
                "json": json,
                "data": data,
                "headers": {**self._headers, **(headers or {})},
                "accept": accept,
            },
            stream=False,
        )
        return cast(Answer, answer)  # stream=False: the body was read

    def get_absolute(self, url: str, *, endpoint: str) -> requests.Response:
        """GET a URL on any host without this client's (auth) headers, streamed: the caller
        reads the body (``read_into``). 3xx answers are returned to the caller, who
        re-checks the Location before following it."""
        parts = urlsplit(url)
        answer = self._send(
            "GET",
            url,
            log_path=f"{parts.scheme}://{parts.hostname or ''}/…",
            endpoint=endpoint,
            idempotent=True,
            options={"headers": {}},  # none of this client's (auth) headers
            stream=True,
        )
        return cast(requests.Response, answer)  # stream=True: the caller reads it

    def read_limited(
        self, resp: requests.Response, *, endpoint: str, limit: int, truncate: bool = False
    ) -> bytes | None:
        """Read a streamed body, at most ``limit`` bytes (after decoding). A larger body
        gives None, or with ``truncate`` its first ``limit`` bytes. The response is closed
        when this returns or raises."""
        buf = io.BytesIO()
        size = self.read_into(resp, buf, endpoint=endpoint, limit=limit, truncate=truncate)
        return None if size is None else buf.getvalue()

    def read_into(
        self,
        resp: requests.Response,
        sink: IO[bytes],
        *,
        endpoint: str,
        limit: int,
        truncate: bool = False,
    ) -> int | None:
        """Copy a streamed body into ``sink`` in 64 KiB chunks, at most ``limit`` bytes
        (after decoding), and return how many were written. A larger body gives None as soon
        as the limit is passed (a declared Content-Length over it before any read), or with
        ``truncate`` writes its first ``limit`` bytes. The response is closed when this
        returns or raises."""
        try:
            length = parse_number(resp.headers.get("Content-Length"))
            if not truncate and length is not None and length > limit:
                return None
            written = 0
            for chunk in resp.iter_content(64 * 1024):
                if written + len(chunk) > limit:
                    if not truncate:
                        return None
                    sink.write(chunk[: limit - written])
                    return limit
                sink.write(chunk)
                written += len(chunk)
            return written
        except requests.RequestException as exc:
            failure, _ = self._translate(exc, endpoint)
        finally:
            resp.close()
        raise failure  # outside the except block: no __context__ holding the URL

    def _translate(
        self, exc: requests.RequestException, endpoint: str
    ) -> tuple[UpstreamError, Delivery]:
        return translate(
            exc,
            api=self.api,
            endpoint=endpoint,
            connect_timeout=self._timeout[0],
            read_timeout=self._timeout[1],
        )

    def _pacer(self, key: str) -> Pacer | None:
        with self._pacers_lock:
            return self._pacers.get(key)

    def _pace(self, endpoint: str) -> None:
        for key in dict.fromkeys((endpoint, "*")):
            pacer = self._pacer(key)
            if pacer is not None:
                pacer.acquire()

    def _correct(self, endpoint: str, headers: Mapping[str, str]) -> None:
        limit = header_int(headers, "X-RateLimit-Limit")
        remaining = header_int(headers, "X-RateLimit-Remaining")
        reset = parse_number(headers.get("X-RateLimit-Reset"))
        if remaining is None or reset is None:
            return
        with self._pacers_lock:  # headers on an unpaced endpoint still deserve obeying
            pacer = self._pacers.get(endpoint)
            if pacer is None:
                pacer = Pacer(0, clock=self._clock, sleep=self._sleep, wall_clock=self._wall)
                self._pacers[endpoint] = pacer
        pacer.correct(limit, remaining, reset)

    def _attempt(
        self, method: str, url: str, endpoint: str, options: dict[str, Any], *, stream: bool
    ) -> Answer | requests.Response | _Failure:
        try:
            resp = self._transport(method, url, options)
        except requests.RequestException as exc:
            return _Failure(*self._translate(exc, endpoint))
        self._correct(endpoint, resp.headers)
        status = resp.status_code
        # A streamed GET's 3xx is the caller's to follow (or not).
        if status < 300 or status in options.get("accept", ()) or (stream and status < 400):
            if stream:
                return resp
            try:
                body = self.read_limited(resp, endpoint=endpoint, limit=self._max_bytes)
            except UpstreamError as cut_off:
                return _Failure(cut_off, "sent", status=status)
            if body is None:
                too_big = InvalidResponse(
                    f"response larger than {self._max_bytes} bytes",
                    api=self.api,
                    endpoint=endpoint,
                    status=status,
                )
                return _Failure(too_big, "final", status=status)
            return Answer(status, resp.headers, body)
        try:
            body = (
                self.read_limited(resp, endpoint=endpoint, limit=ERROR_BODY_LIMIT, truncate=True)
                or b""
            )
        except UpstreamError:
            body = b""  # the status alone still classifies the answer
        err = classify(self.api, endpoint, status, body, resp.headers, now=self._wall())
        wait = server_wait(resp.headers, self._wall()) if status in (429, 503) else None
        return _Failure(err, "sent", status=status, wait=wait)

    def _transport(self, method: str, url: str, options: dict[str, Any]) -> requests.Response:
        """One request, always streamed (so that the body can be capped), never redirected."""
        make_body: BodyFactory | None = options.get("data")
        body = make_body() if make_body is not None else None
        headers: dict[str, str] = options["headers"]
        if body is not None:
            headers = {**headers, "Content-Type": body.content_type}
        parts = urlsplit(url)
        return self._session.request(
            method,
            url,
            params=options.get("params"),
            json=options.get("json"),
            data=body,
            headers=headers,
            timeout=self._timeout,
            stream=True,
            allow_redirects=False,
            proxies=transport.proxies_for(parts.scheme, parts.netloc),
        )

    def _send(
        self,
        method: str,
        url: str,
        *,
        log_path: str,
        endpoint: str,
        idempotent: bool | None,
        options: dict[str, Any],
        stream: bool,
    ) -> Answer | requests.Response:
        idem = method in _IDEMPOTENT_METHODS if idempotent is None else idempotent
        attempt = 0
        while True:
            attempt += 1
            self._pace(endpoint)
            started = self._clock()
            outcome = self._attempt(method, url, endpoint, options, stream=stream)
            status = outcome.status if isinstance(outcome, _Failure) else outcome.status_code
            metrics.upstream_requests_total.labels(
                api=self.api, endpoint=endpoint, status=str(status) if status else "error"
            ).inc()
            event: dict[str, Any] = {
                "api": self.api,
                "method": method,
                "endpoint": endpoint,
                "path": log_path,
                "status": status,
                "ms": round((self._clock() - started) * 1000, 1),
                "attempt": attempt,
            }
            if not isinstance(outcome, _Failure):
                log.info("http.request", **event)
                return outcome
            err = outcome.error
            log.warning("http.request", **event, error=err.message)
            if isinstance(err, RateLimited):
                metrics.rate_limited_total.labels(api=self.api, endpoint=endpoint).inc()
            wait = outcome.wait
            if (
                not self._retryable(err, outcome.delivery, idem)
                or attempt > self._max_retries
                or (wait is not None and wait > self._max_server_wait)
            ):
                # A long server-asked wait is the caller's to schedule, not a worker's to sit out.
                raise err
            if wait is None:
                cap = min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1))
                wait = self._rng.uniform(0, cap)
            metrics.retries_total.labels(api=self.api, endpoint=endpoint).inc()
            self._sleep(wait)

    @staticmethod
    def _retryable(err: UpstreamError, delivery: Delivery, idempotent: bool) -> bool:
        if isinstance(err, RateLimited) or delivery == "unsent":
            return True  # refused or never delivered: nothing was applied
        return isinstance(err, RetryableError) and delivery == "sent" and idempotent


def _check_headers(headers: Mapping[str, str]) -> None:
    """Each header as requests would check it (no CR/LF, no leading space), checked once. A
    bad one is named, but its value, which may be a credential, is not shown."""
    for name, value in headers.items():
        try:
            check_header_validity((name, value))
        except requests.exceptions.InvalidHeader:
            raise ValueError(
                f"the {name} header holds a character HTTP doesn't allow (a line break?)"
            ) from None
