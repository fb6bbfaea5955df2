"""CV upload mode streams end to end over real loopback HTTP (issue 7): the CV is spooled to a
temporary file in 64 KiB chunks, then sent to HiBob as a multipart body read from that file as
it goes out, with a Content-Length. Memory stays at a few chunks whatever the CV's size.

The loopback server here streams too (it hashes what it receives, never keeps it), and it runs
in this process, so the traced peak is an upper bound for the poller's side.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from poller.cv import check_cv_url
from poller.errors import CVRejected
from poller.sandbox import multipart
from poller.upstream.cv_download import download_cv
from poller.upstream.hibob import HibobClient
from poller.upstream.http import HttpClient
from tests.security.helpers import answer, chunked, spool_fds, storage_host

CHUNK = 64 * 1024
CV_SIZE = 20 * 1024 * 1024
PEAK_LIMIT = 2 * 1024 * 1024
NAME = "CV - Ada Lovelace.pdf"
TOKEN = "c2VydmljZTp0b2tlbg=="


def cv_chunks(size: int) -> Iterator[bytes]:
    """A PDF of ``size`` bytes, made on the fly; every 64 KiB block differs from the others,
    so a lost, repeated or misplaced block changes the hash."""
    sent = 0
    for block in range(size // CHUNK + 1):
        data = block.to_bytes(4, "big") * (CHUNK // 4)
        if block == 0:
            data = b"%PDF-1.7\n" + data[9:]
        data = data[: size - sent]
        if not data:
            return
        sent += len(data)
        yield data


@dataclass
class Upload:
    """One request body as the server saw it: headers, size, first bytes and hash."""

    headers: dict[str, str]
    size: int = 0
    head: bytes = b""
    sha256: hashlib._Hash = field(default_factory=hashlib.sha256)


@dataclass
class Loopback:
    url: str
    uploads: list[Upload] = field(default_factory=list)
    cv_size: int = CV_SIZE


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        size = self.server.state.cv_size
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        for data in cv_chunks(size):
            self.wfile.write(data)

    def do_POST(self) -> None:
        upload = Upload({k.lower(): v for k, v in self.headers.items()})
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining:
            data = self.rfile.read(min(CHUNK, remaining))
            if not data:
                break
            if len(upload.head) < 1024:
                upload.head += data[: 1024 - len(upload.head)]
            upload.sha256.update(data)
            upload.size += len(data)
            remaining -= len(data)
        self.server.state.uploads.append(upload)
        body = b'{"id": %d}' % len(self.server.state.uploads)
        answer(200, body, {"Content-Type": "application/json"})(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: Loopback


@contextmanager
def loopback(*, listening: bool = True) -> Iterator[tuple[Loopback, Callable[[], None]]]:
    """A server on an ephemeral port, and a function that starts it. With ``listening``
    False the port is bound but not listened on: connections to it are refused until the
    function is called."""
    server = _Server(("127.0.0.1", 0), _Handler, bind_and_activate=False)
    server.server_bind()
    server.state = Loopback(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True

    def start() -> None:
        if not thread.is_alive():
            server.server_activate()
            thread.start()

    if listening:
        start()
    try:
        yield server.state, start
    finally:
        if thread.is_alive():
            server.shutdown()
            thread.join(timeout=5)
        server.server_close()


def hibob(base_url: str, **kw: Any) -> HibobClient:
    http = HttpClient("hibob", f"{base_url}/v1", headers=HibobClient.headers(TOKEN), **kw)
    return HibobClient(http)


def assert_whole_upload(upload: Upload, cv_size: int) -> None:
    """The body is exactly one part "file" holding the CV, sent with a Content-Length."""
    assert "transfer-encoding" not in upload.headers
    assert int(upload.headers["content-length"]) == upload.size
    boundary = multipart.boundary_of(upload.headers["content-type"])
    assert boundary is not None
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{NAME}"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    assert upload.head.startswith(head)
    assert upload.size == len(head) + cv_size + len(tail)
    expected = hashlib.sha256(head)
    for data in cv_chunks(cv_size):
        expected.update(data)
    expected.update(tail)
    assert upload.sha256.hexdigest() == expected.hexdigest()


def test_a_20_mb_cv_goes_through_in_a_few_chunks_of_memory() -> None:
    """Download (Content-Length declared, cv.max_bytes raised above it) and upload through the
    poller's own code, as `_attach_cv` calls it; the traced peak stays far below the CV."""
    with loopback() as (server, _):
        check = partial(
            check_cv_url,
            allowed_hosts=["127.0.0.1"],
            pinpoint_origin=server.url,
            allow_loopback=True,
        )
        download_http = HttpClient("pinpoint", "", headers={})
        bob = hibob(server.url)
        tracemalloc.start()
        try:
            with download_cv(
                download_http,
                f"{server.url}/cv.pdf?sig=s",
                max_bytes=32 * 1024 * 1024,
                check=check,
            ) as cv:
                assert (cv.size, cv.content_type) == (CV_SIZE, "application/pdf")
                doc_id = bob.upload_document_file("42", NAME, cv.file, cv.content_type)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    print(f"tracemalloc peak for a {CV_SIZE} byte CV: {peak} bytes")
    assert peak < PEAK_LIMIT, peak
    assert doc_id == "1" and len(server.uploads) == 1
    assert_whole_upload(server.uploads[0], CV_SIZE)


def test_a_chunked_cv_over_the_cap_is_cut_off_mid_stream_and_its_file_removed() -> None:
    """No Content-Length to refuse up front: the download stops once past cv.max_bytes,
    holding a few chunks at most, and leaves no temporary file behind."""
    routes = {"/big.pdf": chunked(60 * 1024 * 1024, "application/pdf", b"%PDF-1.7\n")}
    with storage_host(routes) as host:
        check = partial(
            check_cv_url, allowed_hosts=[], pinpoint_origin=host.url(""), allow_loopback=True
        )
        before = spool_fds()
        tracemalloc.start()
        try:
            with (
                pytest.raises(CVRejected, match="larger than 5 MB"),
                download_cv(
                    HttpClient("pinpoint", "", headers={}), host.url("/big.pdf"), check=check
                ),
            ):
                pytest.fail("a CV over the cap is never handed out")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert spool_fds() == before
    assert peak < PEAK_LIMIT, peak


def test_an_upload_refused_before_delivery_is_retried_with_the_whole_body() -> None:
    """Connection refused (the port is bound, nobody listens yet): retried after the backoff,
    during which the server starts; the retry carries the complete body."""
    size = 3 * 1024 * 1024 + 123
    with loopback(listening=False) as (server, start), tempfile.TemporaryFile() as spool:
        for data in cv_chunks(size):
            spool.write(data)
        waits: list[float] = []

        def sleep(seconds: float) -> None:  # the backoff between attempts: start listening
            waits.append(seconds)
            start()

        doc_id = hibob(server.url, sleep=sleep, max_retries=2).upload_document_file(
            "42", NAME, spool, "application/pdf"
        )
    assert len(waits) == 1  # one refused attempt, one retry
    assert doc_id == "1" and len(server.uploads) == 1
    assert_whole_upload(server.uploads[0], size)


@pytest.mark.parametrize("cv_size", [10, CHUNK - 1, CHUNK, CHUNK + 1])
def test_sizes_around_a_chunk_arrive_whole(cv_size: int) -> None:
    with loopback() as (server, _), tempfile.TemporaryFile() as spool:
        for data in cv_chunks(cv_size):
            spool.write(data)
        hibob(server.url).upload_document_file("42", NAME, spool, "application/pdf")
    assert len(server.uploads) == 1
    assert_whole_upload(server.uploads[0], cv_size)
