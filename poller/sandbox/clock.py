"""The simulators' shared clock: real time that tests can start anywhere and move forward."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class SimClock:
    """`now()` starts at `start` (default: the real time) and then runs at real speed.

    `advance(seconds)` jumps it forward, so a test can step over the HiBob read-after-write lag
    or a rate-limit window without sleeping. `epoch()` is the wall clock plus the same jumps;
    it feeds `X-RateLimit-Reset`, which clients compare with their own wall clock.
    """

    def __init__(self, start: datetime | None = None) -> None:
        base = start or datetime.now(UTC)
        if base.tzinfo is None:
            base = base.replace(tzinfo=UTC)
        self.start = base.astimezone(UTC).replace(microsecond=0)
        self._t0 = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return self.start + timedelta(seconds=time.monotonic() - self._t0 + offset)

    def epoch(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
