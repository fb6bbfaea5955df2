"""HiBob's company lists (site, department, title), read once and cached for the flow.

The flow checks each hire's site, department and title against them before the create, so
that a value HiBob would refuse is mapped, left out or failed with a clear message, at the
cost of three requests per cache period rather than one per hire. A list that can't be read
is not checked: HiBob then judges the value itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from poller.errors import AuthError, NotFound, PollerError
from poller.upstream.hibob import HibobClient

log = structlog.get_logger("poller.hibob")

LIST_NAMES = ("site", "department", "title")
RETRY_FAILED_AFTER_SECONDS = 60.0


class HibobLists:
    def __init__(
        self,
        client: HibobClient,
        *,
        ttl_seconds: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._lists: dict[str, list[str]] = {}
        self._expires = float("-inf")
        self._warned: set[str] = set()

    def get(self) -> dict[str, list[str]]:
        """The lists by name; a list that is missing from the answer is not checked.

        Raises AuthError on 401 (a rejected token fails every call alike); a 403, a missing
        list or a failed read leaves that list out."""
        with self._lock:
            now = self._clock()
            if now < self._expires:
                return self._lists
            lists: dict[str, list[str]] = {}
            ttl = self._ttl
            for name in LIST_NAMES:
                try:
                    lists[name] = self._client.named_list(name)
                except NotFound:
                    self._warn(name, "no such list in HiBob: its values aren't checked")
                except AuthError as exc:
                    if exc.status != 403:
                        raise
                    self._warn(name, "403: the service user can't read it; values aren't checked")
                except PollerError as exc:
                    log.warning("hibob.list_unreadable", list=name, error=str(exc))
                    ttl = min(ttl, RETRY_FAILED_AFTER_SECONDS)
            self._lists, self._expires = lists, now + ttl
            return lists

    def _warn(self, name: str, why: str) -> None:
        if name not in self._warned:  # once per process: it is a standing fact
            self._warned.add(name)
            log.warning("hibob.list_not_checked", list=name, reason=why)
