"""Settings: defaults < config.toml < env ``POLLER_<SECTION>__<KEY>`` < CLI overrides; secrets.

Everything is validated once, by pydantic, into frozen models (``poller.config.models``);
unknown keys are errors. The layers are pydantic-settings sources (``poller.config.sources``).
Every problem is collected and raised together as one ``ConfigError``, each line naming the key
and where its value came from, e.g. ``worker.concurrency: Input should be less than or equal to
32 (from env POLLER_WORKER__CONCURRENCY)``.

Secrets (``PINPOINT_API_KEY``, ``HIBOB_BASE64_TOKEN``, ``POLLER_WEB_TOKEN``, or their ``*_FILE``
forms) come only from the environment; a secret-looking key in config.toml is an error. Loaded
secrets are registered with ``poller.redact`` at once, so they are masked in every log line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from poller import redact
from poller.config.models import (
    ChangesSettings,
    ConfigFile,
    CVSettings,
    DatabaseSettings,
    DiscoverySettings,
    HiBobSettings,
    HTTPSettings,
    LoggingSettings,
    MappingSettings,
    NotifySettings,
    PinpointSettings,
    ScheduleSettings,
    ServerSettings,
    Settings,
    WebSettings,
    WorkerSettings,
)

__all__ = [
    "CVSettings",
    "ChangesSettings",
    "ConfigFile",
    "DatabaseSettings",
    "DiscoverySettings",
    "HTTPSettings",
    "HiBobSettings",
    "LoggingSettings",
    "MappingSettings",
    "NotifySettings",
    "PinpointSettings",
    "ScheduleSettings",
    "ServerSettings",
    "Settings",
    "WebSettings",
    "WorkerSettings",
    "load_settings",
]


def load_settings(
    path: str | None = None,
    overrides: Mapping[str, Mapping[str, object]] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Load and validate the configuration; raise ConfigError listing every problem found.

    ``path``: the --config value; else env POLLER_CONFIG; else ./config.toml, which may be
    absent (then the defaults apply). ``overrides`` come from CLI flags and win over all.
    ``env`` defaults to os.environ. Overrides whose value is None are ignored (a flag not
    given). Loaded secrets are registered with ``poller.redact``.
    """
    from poller.config.sources import load  # pydantic-settings: only where config is loaded

    settings = load(Settings, path, overrides or {}, os.environ if env is None else env)
    for value in settings.secret_values():
        redact.register_secret(value)
    return settings
