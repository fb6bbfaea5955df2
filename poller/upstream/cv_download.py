"""Downloading a CV within bounds, for ``cv.mode = "upload"``.

The CV is spooled to an anonymous temporary file, never held whole in memory; redirects are
followed by hand, each new location checked by the caller's policy (``poller.cv``) first.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import IO
from urllib.parse import urljoin, urlsplit

import requests

from poller.cv import CONTENT_TYPES, GENERIC_TYPES, sniff
from poller.errors import AuthError, CVRejected, PermanentError, RetryableError
from poller.text import clean
from poller.upstream.http import HttpClient

ENDPOINT_CV = "GET cv"
MAX_REDIRECTS = 3


def _size(limit: int) -> str:
    mb = 1024 * 1024
    return f"{limit // mb} MB" if limit % mb == 0 else f"{limit} bytes"


@dataclass(frozen=True)
class CVFile:
    """A downloaded CV: an anonymous temporary ``file`` (read it from the start), its
    ``size`` in bytes and its ``content_type``, from the bytes themselves."""

    file: IO[bytes]
    size: int
    content_type: str


@contextmanager
def download_cv(
    http: HttpClient,
    url: str,
    *,
    max_bytes: int = 5 * 1024 * 1024,
    check: Callable[[str], None],
) -> Iterator[CVFile]:
    """Fetch a CV into a temporary file, for use in a ``with`` block; the file is removed
    when the block ends, or when the download fails. Redirects are followed by hand, at
    most MAX_REDIRECTS, each new location re-checked. Reading stops as soon as the body
    passes ``max_bytes``. Transient failures (timeouts, 5xx) propagate as RetryableError;
    everything else about the CV is CVRejected."""
    resp = _follow(http, url, check)
    declared = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
    with closing(resp), _spool() as spool:
        try:
            size = http.read_into(resp, spool, endpoint=ENDPOINT_CV, limit=max_bytes)
        except OSError as exc:  # the spool's disk, not the network (read_into translates that)
            raise _spool_error(exc) from None
        if size is None:
            raise CVRejected(f"CV is larger than {_size(max_bytes)}")
        kind = sniff(spool)
        if kind is None:
            raise CVRejected("CV is not a PDF, DOC or DOCX file")
        if declared not in GENERIC_TYPES and declared not in CONTENT_TYPES.values():
            served = clean(declared, 80, ellipsis=True, printable=True)
            raise CVRejected(f"CV is served as {served}, not PDF/DOC/DOCX")
        spool.seek(0)
        yield CVFile(spool, size, CONTENT_TYPES[kind])


@contextmanager
def _spool() -> Iterator[IO[bytes]]:
    try:
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise _spool_error(exc) from None
    with spool:
        yield spool


def _spool_error(exc: OSError) -> RetryableError:
    """A full or unwritable temporary directory: the hire is retried later, no traceback."""
    reason = exc.strerror or type(exc).__name__
    return RetryableError(
        f"CV could not be spooled to a temporary file in {tempfile.gettempdir()}: {reason}",
        api="pinpoint",
        endpoint=ENDPOINT_CV,
    )


def _follow(http: HttpClient, url: str, check: Callable[[str], None]) -> requests.Response:
    """The streamed 2xx answer for ``url``, after following (and checking) redirects."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        check(current)
        host = clean(urlsplit(current).hostname or "", 80, ellipsis=True, printable=True)
        try:
            resp = http.get_absolute(current, endpoint=ENDPOINT_CV)
        except (PermanentError, AuthError) as exc:  # 401/403 of an expired link: no cycle stop
            raise CVRejected(
                f"CV download from {host} failed: {exc.message} (HTTP {exc.status})"
            ) from exc
        if 300 <= resp.status_code < 400:
            location = resp.headers.get("Location")
            resp.close()
            if not location:
                raise CVRejected(f"CV download from {host} redirected without a Location")
            current = urljoin(current, location)
            continue
        return resp
    raise CVRejected(f"CV download redirected more than {MAX_REDIRECTS} times")


class CVDownloader:
    """Downloads CV links with its own HTTP client, which sends none of the APIs' headers."""

    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def download(
        self, url: str, *, max_bytes: int, check: Callable[[str], None]
    ) -> contextlib.AbstractContextManager[CVFile]:
        return download_cv(self._http, url, max_bytes=max_bytes, check=check)
