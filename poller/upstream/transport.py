"""The requests session every client uses: TLS always verified, nothing taken from the
environment per request, no cookies kept."""

from __future__ import annotations

import functools
import os
from http.cookiejar import DefaultCookiePolicy

import requests
from requests.adapters import HTTPAdapter


def make_session(
    *, ca_bundle: str | None = None, user_agent: str = "pinpoint-hibob-poller", pool_size: int = 10
) -> requests.Session:
    """A session with TLS verification always on; ``ca_bundle`` replaces the CA path, else
    REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE keep their meaning (an empty one means unset).

    ``trust_env`` is off: ~/.netrc must never add credentials to a CV download, and a
    platform's CA variables must not override the configured bundle (psf/requests#4726).
    Proxies still come from the environment, per origin (``proxies_for``).
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
    # The APIs are stateless: a cookie set by one answer (or a CV host) is never sent back.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = HTTPAdapter(pool_maxsize=pool_size, max_retries=0)  # retries are HttpClient's
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@functools.lru_cache(maxsize=256)
def proxies_for(scheme: str, netloc: str) -> dict[str, str]:
    """The proxy settings the environment gives this origin (NO_PROXY applied), cached:
    the environment doesn't change under a running process."""
    return dict(requests.utils.get_environ_proxies(f"{scheme}://{netloc}/"))
