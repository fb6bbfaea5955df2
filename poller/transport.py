"""requests' transport adapter, without the per-request work this client never needs.

Every override is one of the hooks requests documents "for use when subclassing the
HTTPAdapter"; nothing else of requests is replaced. Together with the client-side query
encoding in ``poller.http`` they cut a loopback GET from 1,264 to 1,186 Python calls, and
one with a query string from 1,618 to 1,437 (cProfile; bench/README.md):

- the connection pool's key: requests parses the URL and stats the CA path (``isdir``) on
  every request. Here it is worked out once per origin and TLS setting;
- the request line's URL: without a proxy it is the path, as requests would send it, minus
  requests' two proxy lookups;
- the response: built as requests builds it, minus the cookie jar extraction. The poller
  sends no cookies and keeps none (no session state between calls).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

if TYPE_CHECKING:  # the stubs' names for requests' two dicts
    from requests.adapters import _HostParams, _PoolKwargs


class PollerAdapter(HTTPAdapter):
    """HTTPAdapter with its per-request overhead memoised or skipped (see the module)."""

    def build_connection_pool_key_attributes(
        self, request: PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        parts = urlsplit(request.url or "")
        host, pool = _pool_key(parts.scheme.lower(), parts.hostname, parts.port, verify, cert)
        # Copies: urllib3 may keep and change what it is given.
        return cast("_HostParams", dict(host)), cast("_PoolKwargs", dict(pool))

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
