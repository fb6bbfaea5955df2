"""Client-side pacing: a token bucket per endpoint (or a whole host), corrected by the
server's X-RateLimit-* answers."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping

from poller.upstream.http_errors import parse_number, reset_delay

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class Pacer:
    """A client-side token bucket for one endpoint (or a whole host).

    ``rate_per_second`` <= 0 means unpaced, though X-RateLimit-* corrections still apply.
    Thread-safe: a caller reserves its slot under the lock (tokens may go negative, a debt
    later callers queue behind) and sleeps outside it.
    """

    def __init__(
        self,
        rate_per_second: float,
        burst: int = 1,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        *,
        wall_clock: Clock = time.time,
        max_block: float = 120.0,
    ) -> None:
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self._rate = max(0.0, rate_per_second)
        self._burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._wall = wall_clock
        self._max_block = max_block
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._stamp = clock()
        self._blocked_until = -math.inf

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            wait = max(0.0, self._blocked_until - now)
            if self._rate > 0:
                self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
                self._stamp = now
                self._tokens -= 1
                if self._tokens < 0:
                    wait = max(wait, -self._tokens / self._rate)
        if wait > 0:
            self._sleep(wait)

    def correct(self, limit: int | None, remaining: int | None, reset_epoch: float | None) -> None:
        """Obey X-RateLimit-*: at 0 remaining wait for the reset; when few remain (10% of
        the limit or less) spread them over the time left. Bounded by ``max_block`` so a
        bogus header can't stall a worker for hours."""
        if remaining is None or reset_epoch is None:
            return
        delay = min(reset_delay(reset_epoch, self._wall()), self._max_block)
        if remaining <= 0:
            pause = delay
        elif limit is not None and limit > 0 and remaining <= max(1, limit // 10):
            pause = delay / (remaining + 1)
        else:
            return
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + pause)


def header_int(headers: Mapping[str, str], name: str) -> int | None:
    number = parse_number(headers.get(name))
    return None if number is None else int(number)
