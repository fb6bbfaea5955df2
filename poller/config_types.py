"""Validated value types of the configuration's sections, and ``is_loopback_host``, which the
status page and the sync use too (``poller.config`` exports it)."""

from __future__ import annotations

import ipaddress
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

__all__ = ["BaseURL", "NonEmptyStr", "is_loopback_host"]


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (also written as [::1] or ::ffff:127.x.y.z)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        addr = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback


def _base_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL, e.g. https://api.hibob.com/v1")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials; secrets come from the environment")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query string or fragment")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError("must use https (plain http is allowed only for loopback hosts)")
    return value.strip().rstrip("/")


def _stripped_non_empty(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


BaseURL = Annotated[str, AfterValidator(_base_url)]
NonEmptyStr = Annotated[str, AfterValidator(_stripped_non_empty)]
