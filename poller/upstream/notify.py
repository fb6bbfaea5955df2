"""Sending to the notification targets: Apprise URLs (slack://, msteams://, mailto://, json://
and about a hundred more), each sent to on its own, so that each answers for itself.

Apprise is imported only when a message is sent: with no target set it is never loaded. It
keeps nothing on disk (memory storage: the container's root filesystem is read-only), and its
own timeouts bound a target that is slow (4 s to connect and to read, for HTTP targets).
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import structlog

log = structlog.get_logger("poller.notify")


@dataclass(frozen=True)
class Target:
    url: str = field(repr=False)  # carries tokens: never logged or shown
    key: str  # a hash of the URL: the name of its cursor and lease in poller_state
    label: str  # for people: the scheme and host, or the scheme and its place in the list


def _label(url: str, index: int) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
        plain = True
    except ValueError:
        plain = "." in host or host == "localhost"
    # slack://TokenA/TokenB/... puts a token where the host would be: don't show it.
    where = host if plain else f"(target {index})"
    return f"{parts.scheme or '?'}://{where}"


def targets(urls: list[str]) -> list[Target]:
    return [
        Target(url, hashlib.sha256(url.encode()).hexdigest()[:16], _label(url, i))
        for i, url in enumerate(urls, start=1)
    ]


class Sender:
    """Apprise, one target at a time."""

    def __init__(self) -> None:
        self._apprise: Any = None

    def _module(self) -> Any:
        if self._apprise is None:
            import apprise

            self._apprise = apprise
        return self._apprise

    def _client(self, target: Target) -> Any:
        apprise = self._module()
        asset = apprise.AppriseAsset(storage_mode=apprise.PersistentStoreMode.MEMORY)
        client = apprise.Apprise(asset=asset)
        return client if client.add(target.url) else None

    def malformed(self, all_targets: list[Target]) -> list[Target]:
        """The targets Apprise can't read (an unknown scheme, a URL missing its parts)."""
        return [t for t in all_targets if self._client(t) is None]

    def send(self, target: Target, title: str, body: str) -> bool:
        """True when the target took the message."""
        client = self._client(target)
        if client is None:
            log.warning("notify.target_unreadable", target=target.label)
            return False
        try:
            return bool(
                client.notify(title=title, body=body, body_format=self._module().NotifyFormat.TEXT)
            )
        except Exception as exc:  # noqa: BLE001 - a plugin's failure must never stop a cycle
            log.warning("notify.send_failed", target=target.label, error=type(exc).__name__)
            return False
