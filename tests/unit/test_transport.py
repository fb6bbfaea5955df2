"""The trimmed transport adapter: the same pools, request lines and query strings as
requests' own code, without its per-request overhead."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from requests.adapters import _urllib3_request_context  # type: ignore[attr-defined]

from poller.upstream.http import HttpClient
from poller.upstream.transport import (
    PollerAdapter,
    make_session,
    plain_path,
    prepare,
    prepared_base,
    validated_headers,
)
from poller.upstream.transport import encode_query as _encode_query


@pytest.mark.parametrize("url", ["https://api.hibob.com/v1/people", "http://127.0.0.1:8080/x?a=1"])
@pytest.mark.parametrize("verify", [True, "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs"])
@pytest.mark.parametrize("cert", [None, "/tls/client.pem", ("/tls/c.pem", "/tls/c.key")])
def test_pool_keys_are_the_ones_requests_builds(url: str, verify: Any, cert: Any) -> None:
    req = requests.Request("GET", url).prepare()
    ours = PollerAdapter().build_connection_pool_key_attributes(req, verify, cert)
    theirs = _urllib3_request_context(req, verify, cert, None)
    assert ours == theirs


def test_turning_certificate_checks_off_is_refused() -> None:
    req = requests.Request("GET", "https://api.hibob.com/v1/people").prepare()
    with pytest.raises(ValueError, match="can't be turned off"):
        PollerAdapter().build_connection_pool_key_attributes(req, False)


def test_the_request_line_is_the_path_unless_a_proxy_is_used() -> None:
    req = requests.Request("GET", "http://example.test/a/b", params={"q": "1"}).prepare()
    adapter = PollerAdapter()
    assert adapter.request_url(req, {}) == "/a/b?q=1"
    proxied = {"http": "http://proxy.test:3128"}
    assert adapter.request_url(req, proxied) == requests.adapters.HTTPAdapter().request_url(
        req, proxied
    )


@pytest.mark.parametrize(
    "params",
    [
        {"filter[updated_at][gte]": "2026-01-10T12:00:00+00:00", "page[size]": "100"},
        {"q": "Zoë Łukasz 李 & co=1", "skip": None, "n": 3},
        {},
    ],
)
def test_query_strings_match_requests(params: dict[str, Any]) -> None:
    base = "http://example.test/applications"
    ours = requests.PreparedRequest()
    ours.prepare_url(base, _encode_query(params))
    theirs = requests.PreparedRequest()
    theirs.prepare_url(base, params)
    assert ours.url == theirs.url


@pytest.fixture
def cookie_server() -> Iterator[str]:
    """Answers every request with a Set-Cookie, and echoes the Cookie header it got."""
    srv = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        for _ in range(2):
            conn, _ = srv.accept()
            with conn:
                head = conn.recv(65536).decode("latin-1")
                got = [ln for ln in head.split("\r\n") if ln.lower().startswith("cookie:")]
                body = (got[0] if got else "no cookie").encode()
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nSet-Cookie: session=abc; Path=/\r\n"
                    b"Connection: close\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    srv.close()


def test_cookies_are_neither_kept_nor_sent_back(cookie_server: str) -> None:
    client = HttpClient("pinpoint", cookie_server, headers={}, session=make_session())
    first = client.request("GET", "/a", endpoint="GET /a")
    assert first.content == b"no cookie" and first.status_code == 200
    assert client.request("GET", "/b", endpoint="GET /b").content == b"no cookie"


_TLS = ("cert_reqs", "ca_certs", "ca_cert_dir", "cert_file", "key_file")


def _tls(pool: Any) -> dict[str, Any]:
    return {name: getattr(pool, name, "unset") for name in _TLS}


@pytest.mark.parametrize("url", ["https://api.hibob.com/v1/people", "http://127.0.0.1:8080/x"])
@pytest.mark.parametrize("verify", [True, "ca-file", "ca-dir"])
def test_connections_and_certificate_settings_are_the_ones_requests_makes(
    url: str, verify: Any, tmp_path: Path
) -> None:
    if verify == "ca-file":
        verify = str(tmp_path / "bundle.pem")
        Path(verify).write_text("")
    elif verify == "ca-dir":
        verify = str(tmp_path)
    req = requests.Request("GET", url).prepare()
    ours, theirs = PollerAdapter(), requests.adapters.HTTPAdapter()
    for _ in range(2):  # the second time replays what the first worked out
        pool = ours.get_connection_with_tls_context(req, verify)
        ref = theirs.get_connection_with_tls_context(req, verify)
        assert (type(pool), pool.host, pool.port) == (type(ref), ref.host, ref.port)
        ours.cert_verify(pool, url, verify, None)
        theirs.cert_verify(ref, url, verify, None)
        assert _tls(pool) == _tls(ref)
    assert ours.get_connection_with_tls_context(req, verify) is pool  # one pool per origin


def test_a_missing_ca_bundle_is_refused_on_every_request(tmp_path: Path) -> None:
    url, missing = "https://api.hibob.com/v1/people", str(tmp_path / "gone.pem")
    adapter = PollerAdapter()
    pool = adapter.get_connection_with_tls_context(requests.Request("GET", url).prepare(), True)
    for _ in range(2):
        with pytest.raises(OSError, match="invalid path"):
            adapter.cert_verify(pool, url, missing, None)


def test_a_proxied_request_gets_requests_own_proxy_pool() -> None:
    req = requests.Request("GET", "http://example.test/a").prepare()
    proxies = {"http": "http://proxy.test:3128"}
    pool = PollerAdapter().get_connection_with_tls_context(req, True, proxies)
    ref = requests.adapters.HTTPAdapter().get_connection_with_tls_context(req, True, proxies)
    assert type(pool) is type(ref)
    assert pool.proxy.host == ref.proxy.host == "proxy.test"


_BASES = ["https://api.hibob.com/v1", "http://127.0.0.1:8080", "https://bücher.example/api/v1/"]
_IDS = ["8863902", "3332883884017713238", "a b", "x/../y", "Zoë Łukasz 李", "%41", "~._-", "?#&="]


@pytest.mark.parametrize("base", _BASES)
@pytest.mark.parametrize("ident", _IDS)
@pytest.mark.parametrize("params", [None, {"page[number]": "2", "q": "a b&c"}])
def test_a_plain_path_gives_the_url_requests_prepares(
    base: str, ident: str, params: dict[str, str] | None
) -> None:
    path = f"/docs/people/{quote(ident, safe='')}/shared"  # as the clients build paths
    assert plain_path(path)
    query = _encode_query(params)
    req = prepare(
        "GET",
        "unused",
        query=query,
        plain=f"{prepared_base(base)}{path}",
        headers=validated_headers({}),
        extra_headers={},
        body=None,
        json=None,
    )
    theirs = requests.PreparedRequest()
    theirs.prepare_url(base.rstrip("/") + path, params)
    assert req.url == theirs.url


@pytest.mark.parametrize(
    "path", ["/a b", "/%7e", "/%41", "/%2f", "/x?y=1", "/é", "relative", "/a#f"]
)
def test_paths_requests_would_rewrite_are_not_plain(path: str) -> None:
    assert not plain_path(path)


def test_headers_are_checked_once_and_a_bad_value_is_not_shown() -> None:
    with pytest.raises(ValueError, match="X-API-KEY header") as err:
        HttpClient("pinpoint", "https://x.test", headers={"X-API-KEY": "pp_live\nSECRET"})
    assert "SECRET" not in str(err.value)
    with pytest.raises(ValueError, match="Content-Type header"):
        validated_headers({"Content-Type": " leading space"})


@pytest.fixture
def head_server() -> Iterator[tuple[str, list[str]]]:
    """Records the header block of each request it gets; answers 204."""
    srv = socket.create_server(("127.0.0.1", 0))
    heads: list[str] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(ln.split(b":")[1])
                        for ln in head.split(b"\r\n")
                        if ln.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(body) < length:
                    body += conn.recv(65536)
                heads.append(head.decode("latin-1"))
                conn.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}", heads
    srv.close()


def test_request_headers_on_the_wire_are_the_ones_requests_sends(
    head_server: tuple[str, list[str]],
) -> None:
    """RequestHeaders' short-cut copy and iteration change nothing that is sent: the same
    header lines, in the same order and case, as requests' own Session for the same call."""
    base, heads = head_server
    fixed = {"X-API-KEY": "k", "Accept": "application/vnd.api+json"}
    client = HttpClient("pinpoint", base, headers=fixed, session=make_session())
    client.request(
        "POST", "/comments", endpoint="POST /comments", json={"a": 1}, headers={"X-Extra": "1"}
    )
    session = make_session()  # the same User-Agent and settings, requests' own adapter
    for prefix in ("http://", "https://"):
        session.mount(prefix, requests.adapters.HTTPAdapter())
    session.post(base + "/comments", json={"a": 1}, headers={**fixed, "X-Extra": "1"})
    ours, theirs = heads
    assert ours.split("\r\n") == theirs.split("\r\n")
    assert "X-API-KEY: k" in ours.split("\r\n")


def test_request_headers_copy_apart_and_stay_case_insensitive() -> None:
    headers = validated_headers({"X-API-KEY": "k", "Accept": "a"})
    copied = headers.copy()
    copied["accept"] = "b"
    copied["X-New"] = "n"
    assert dict(headers.items()) == {"X-API-KEY": "k", "Accept": "a"}
    assert list(copied) == ["X-API-KEY", "accept", "X-New"]
    assert copied["ACCEPT"] == "b" and "x-new" in copied and len(copied) == 3
    reference = requests.structures.CaseInsensitiveDict({"X-API-KEY": "k", "Accept": "a"})
    assert list(headers.items()) == list(reference.items()) and headers == reference
