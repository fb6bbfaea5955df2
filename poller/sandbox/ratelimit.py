"""Per-endpoint, per-minute rate limits over fixed 60-second windows.

Windows are aligned to the epoch minute (like HiBob's documented per-minute limits), so
`X-RateLimit-Reset` is the next whole minute in Unix seconds. A refused request does not count.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateVerdict:
    limit: int
    remaining: int
    reset_epoch: int
    allowed: bool

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_epoch),
        }


class RateLimiter:
    def __init__(self, limits: dict[str, int] | None = None) -> None:
        self._limits: dict[str, int] = {}
        self._windows: dict[str, tuple[int, int]] = {}  # endpoint -> (window index, count)
        self._lock = threading.Lock()
        self.endpoints: frozenset[str] = frozenset()  # when set, other keys are refused
        for endpoint, per_minute in (limits or {}).items():
            self.set_limit(endpoint, per_minute)

    def set_limit(self, endpoint: str, per_minute: int | None) -> None:
        """Limit `endpoint` ("METHOD /template") to `per_minute`; None or 0 removes the limit."""
        if per_minute is not None and (not isinstance(per_minute, int) or per_minute < 0):
            raise ValueError("a rate limit is a non-negative whole number per minute")
        if self.endpoints and endpoint not in self.endpoints:
            known = ", ".join(sorted(self.endpoints))
            raise ValueError(f"unknown endpoint {endpoint!r}; use one of: {known}")
        with self._lock:
            if per_minute:
                self._limits[endpoint] = per_minute
            else:
                self._limits.pop(endpoint, None)
            self._windows.pop(endpoint, None)

    def limits(self) -> dict[str, int]:
        with self._lock:
            return dict(self._limits)

    def check(self, endpoint: str, now_epoch: float) -> RateVerdict | None:
        """Count one request; None when the endpoint is not limited."""
        with self._lock:
            limit = self._limits.get(endpoint)
            if limit is None:
                return None
            window = math.floor(now_epoch / WINDOW_SECONDS)
            current, count = self._windows.get(endpoint, (window, 0))
            if current != window:
                count = 0
            allowed = count < limit
            if allowed:
                count += 1
            self._windows[endpoint] = (window, count)
            return RateVerdict(limit, limit - count, (window + 1) * WINDOW_SECONDS, allowed)
