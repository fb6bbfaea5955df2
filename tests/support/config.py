"""Config files and environments for real poller processes (tests and bench/ alike)."""

from __future__ import annotations

import os
import sys
from typing import Any, Protocol

import tomli_w

# The real command, as `python -m poller` (the same entry point as the console script).
POLLER = [sys.executable, "-m", "poller"]
_OWN_PREFIXES = ("POLLER_", "PINPOINT_", "HIBOB_")

Config = dict[str, dict[str, Any]]


class Credentials(Protocol):
    pinpoint_api_key: str
    hibob_token: str


def merged(base: Config, extra: Config) -> Config:
    """``base`` with each section of ``extra`` laid over it, key by key (neither is changed)."""
    out = {k: dict(v) for k, v in base.items()}
    for section, values in extra.items():
        out.setdefault(section, {}).update(values)
    return out


def toml_dumps(config: Config) -> str:
    return tomli_w.dumps(config)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the developer's poller settings or secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    env.update(extra or {})
    return env


def secrets_env(sb: Credentials) -> dict[str, str]:
    """The two secrets of a running sandbox, as the poller reads them."""
    return {"PINPOINT_API_KEY": sb.pinpoint_api_key, "HIBOB_BASE64_TOKEN": sb.hibob_token}
