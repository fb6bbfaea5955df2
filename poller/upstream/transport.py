"""requests' transport adapter, without the per-request work this client never needs.

Every override is one of the hooks requests documents "for use when subclassing the
HTTPAdapter"; nothing else of requests is replaced. What each saves is measured in
bench/README.md ("CPU per hire"). The work left out:

- the connection pool's key: requests parses the URL and stats the CA path (``isdir``) on
  every request. Here it is worked out once per origin and TLS setting;
- the connection: without a proxy, requests still parses the URL again to look for one,
  and urllib3 merges the pool settings and builds the pool's key again;
- the certificate settings: for HTTPS requests stats the CA path twice per request (exists,
  isdir). Here its own check runs once per setting and its outcome is replayed;
- the request line's URL: without a proxy it is the path, as requests would send it, minus
  requests' two proxy lookups;
- the response: built as requests builds it, minus the cookie jar extraction. The poller
  sends no cookies and keeps none (no session state between calls);
- the response's headers: parsed without the email package (``poller.upstream.headers``).

``prepare`` builds the request as ``PreparedRequest.prepare_*`` would, with two steps done
once per client instead of per request: the fixed headers are validated once, and a URL made
of the prepared base and an already-quoted path (``plain_path``) isn't parsed and re-quoted.
The request's headers are a ``RequestHeaders``: requests' case-insensitive dict, whose copy
(once here, once in urllib3) and iteration (twice in urllib3) go through Python-level
``__setitem__``/``__getitem__`` per header; a fifth of a hire's Python calls before.
tests/unit/test_transport.py compares the results with requests' own preparation.
"""

from __future__ import annotations

import functools
import os
import re
import string
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import requests
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from requests.exceptions import InvalidHeader, InvalidURL, RequestException
from requests.structures import CaseInsensitiveDict
from requests.utils import check_header_validity, get_encoding_from_headers

from poller.upstream.headers import install as install_header_parser

install_header_parser()

if TYPE_CHECKING:  # the stubs' names for requests' two dicts
    from requests.adapters import _HostParams, _PoolKwargs


# The attributes requests' cert_verify sets on a connection pool.
_TLS_ATTRS = ("cert_reqs", "ca_certs", "ca_cert_dir", "cert_file", "key_file")


class PollerAdapter(HTTPAdapter):
    """HTTPAdapter with its per-request overhead memoised or skipped (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tls_settings: dict[tuple[bool, Any, Any], tuple[tuple[str, Any], ...]] = {}
        self._pool_keys: dict[Any, tuple[Any, dict[str, Any]]] = {}

    def get_connection_with_tls_context(
        self,
        request: PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: Any = None,
    ) -> Any:
        if proxies:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        parts = urlsplit(request.url or "")
        try:
            key = _pool_key(
                parts.scheme.lower(),
                parts.hostname,
                parts.port,
                True if verify is None else verify,
                cert,
            )
        except ValueError as exc:  # as requests does
            raise InvalidURL(exc, request=request) from None
        found = self._pool_keys.get(key)
        if found is None:
            found = self._pool_key_and_context(key)
            self._pool_keys[key] = found
        pool_key, context = found
        # A copy: a new pool's constructor pops keys out of it.
        return self.poolmanager.connection_from_pool_key(pool_key, request_context=dict(context))

    def _pool_key_and_context(self, key: Any) -> tuple[Any, dict[str, Any]]:
        """What ``PoolManager.connection_from_host`` works out on every call (merging the
        pool settings, normalising the key), once per origin and TLS setting."""
        host, pool = dict(key[0]), dict(key[1])
        if not host["host"]:
            raise InvalidURL("No host specified.")
        context = {**self.poolmanager.connection_pool_kw, **pool}
        context["scheme"] = host["scheme"] or "http"
        context["port"] = host["port"] or (443 if context["scheme"] == "https" else 80)
        context["host"] = host["host"]
        make_key = self.poolmanager.key_fn_by_scheme[context["scheme"]]
        return make_key(context), context

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        key = (url[:5].lower() == "https", verify, cert)
        settings = self._tls_settings.get(key)
        if settings is None:
            # requests' own checks (a missing CA path or client certificate raises), once.
            super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]
            settings = tuple((n, getattr(conn, n)) for n in _TLS_ATTRS if hasattr(conn, n))
            self._tls_settings[key] = settings
            return
        for name, value in settings:
            setattr(conn, name, value)

    def build_connection_pool_key_attributes(
        self, request: PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        parts = urlsplit(request.url or "")
        host, pool = _pool_key(parts.scheme.lower(), parts.hostname, parts.port, verify, cert)
        # Copies: urllib3 may keep and change what it is given.
        # Not typing.cast: at run time it is a function call, two a request.
        return dict(host), dict(pool)  # type: ignore[return-value]

    def request_url(self, request: PreparedRequest, proxies: Mapping[str, str] | None) -> str:
        if proxies:
            return str(super().request_url(request, proxies))
        return request.path_url

    def build_response(self, req: PreparedRequest, resp: Any) -> Response:
        response = Response()
        response.status_code = getattr(resp, "status", None)  # type: ignore[assignment]
        response.headers = CaseInsensitiveDict(getattr(resp, "headers", {}))
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason
        url = req.url
        response.url = url.decode("utf-8") if isinstance(url, bytes) else (url or "")
        response.request = req
        response.connection = self
        return response


@functools.lru_cache(maxsize=64)
def _pool_key(
    scheme: str, host: str | None, port: int | None, verify: Any, cert: Any
) -> tuple[tuple[tuple[str, Any], ...], tuple[tuple[str, Any], ...]]:
    """requests' own rules (its ``_urllib3_request_context``, as of the locked 2.34), once
    per origin and TLS setting. tests/unit/test_transport.py compares the two."""
    if verify is False:  # make_session never does this; nor may anything else
        raise ValueError("TLS certificate verification can't be turned off")
    pool: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED"}
    if isinstance(verify, str):
        pool["ca_cert_dir" if os.path.isdir(verify) else "ca_certs"] = verify
    if isinstance(cert, tuple) and len(cert) == 2:
        pool["cert_file"], pool["key_file"] = cert
    elif cert is not None:
        pool["cert_file"] = cert
    host_params = {"scheme": scheme, "host": host, "port": port}
    return tuple(host_params.items()), tuple(pool.items())


_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# A path requests' requote_uri leaves as it is: unreserved characters, and escapes in upper
# case of everything else (an escaped unreserved character would be unescaped). The clients
# build their paths with urllib.parse.quote(..., safe=""), which gives exactly that.
_PLAIN_PATH = re.compile(
    r"(?:/(?:[A-Za-z0-9._~-]|%(?:"
    + "|".join(f"{b:02X}" for b in range(256) if chr(b) not in _UNRESERVED)
    + r"))*)+"
)


def plain_path(path: str) -> bool:
    return _PLAIN_PATH.fullmatch(path) is not None


def prepared_base(base_url: str) -> str | None:
    """``base_url`` as requests prepares it (IDNA host, quoting), without a trailing slash;
    None if requests can't (a client for absolute URLs only has no base)."""
    req = PreparedRequest()
    try:
        req.prepare_url(base_url, None)
    except RequestException:
        return None
    return (req.url or "").rstrip("/")


class RequestHeaders(CaseInsensitiveDict[str]):
    """requests' CaseInsensitiveDict, copied and iterated over its store directly."""

    def copy(self) -> RequestHeaders:
        new = RequestHeaders.__new__(RequestHeaders)
        new._store = self._store.copy()  # type: ignore[attr-defined]
        return new

    def __iter__(self) -> Iterator[str]:
        return iter([key for key, _ in self._store.values()])  # type: ignore[attr-defined]

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        """A list, not a live view: every caller (urllib3, http.client) only loops over it."""
        return list(self._store.values())  # type: ignore[attr-defined]


def validated_headers(headers: Mapping[str, Any]) -> RequestHeaders:
    """The headers as requests prepares them: each one checked (no CR/LF, no leading space).
    A bad one is named, but its value, which may be a credential, is not shown."""
    for name, value in headers.items():
        try:
            check_header_validity((name, value))
        except InvalidHeader:
            raise ValueError(
                f"the {name} header holds a character HTTP doesn't allow (a line break?)"
            ) from None
    req = PreparedRequest()
    req.prepare_headers(headers)
    out = RequestHeaders()
    out._store = req.headers._store.copy()  # type: ignore[attr-defined]
    return out


def prepare(
    method: str,
    url: str,
    *,
    query: str | None,
    plain: str | None,
    headers: RequestHeaders,
    extra_headers: Mapping[str, str],
    body: Any,
    json: object | None,
) -> PreparedRequest:
    """``url`` with ``query``; ``plain``, when given, is the same URL already prepared
    (prepared base + plain path). ``headers`` were validated before; ``extra_headers`` are
    checked here."""
    req = PreparedRequest()
    req.prepare_method(method)
    if plain is not None:
        req.url = f"{plain}?{query}" if query else plain
    else:
        req.prepare_url(url, query)
    prepared = headers.copy()
    for name, value in extra_headers.items():
        check_header_validity((name, value))
        prepared[name] = value
    req.headers = prepared
    # A body with a read() and a len goes out as it is read, with a Content-Length.
    req.prepare_body(body, None, json)
    return req


def make_session(
    *, ca_bundle: str | None = None, user_agent: str = "pinpoint-hibob-poller"
) -> requests.Session:
    """A session with TLS verification always on; ``ca_bundle`` replaces the CA path.

    The environment is read here, once: with ``trust_env`` requests re-reads every proxy
    variable and ~/.netrc on each request (its cost: bench/README.md).
    Proxies are looked up per host by ``HttpClient`` (``proxies_for``); the CA variables
    keep their meaning: REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, unless ``ca_bundle`` is set.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = (
        ca_bundle
        or os.environ.get("REQUESTS_CA_BUNDLE")
        or os.environ.get("CURL_CA_BUNDLE")
        or True
    )
    session.headers["User-Agent"] = user_agent
    for prefix in ("https://", "http://"):
        session.mount(prefix, PollerAdapter())
    return session


@functools.lru_cache(maxsize=256)
def proxies_for(scheme: str, netloc: str) -> dict[str, str]:
    """The proxy settings the environment gives this origin (NO_PROXY applied), cached:
    the environment doesn't change under a running process."""
    return dict(requests.utils.get_environ_proxies(f"{scheme}://{netloc}/"))


def encode_query(params: Mapping[str, Any] | None) -> str | None:
    """The query string requests would build from ``params`` (None values left out), made
    here: given a dict, requests runs two runtime Protocol checks that cost more than this."""
    if not params:
        return None
    return urlencode([(key, value) for key, value in params.items() if value is not None])
