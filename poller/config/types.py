"""Validated value types of the configuration's sections."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

from poller.hosts import is_loopback_host

__all__ = ["BaseURL", "NonEmptyStr"]


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
