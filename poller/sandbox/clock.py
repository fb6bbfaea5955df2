"""The simulators' shared clock: real time that tests can start anywhere and move forward."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

DateLike = date | str | None


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


def utc(moment: datetime) -> datetime:
    """Whole seconds in UTC; a naive time is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def as_date(value: DateLike) -> date | None:
    """A date from a date or an ISO string (a date-time's date part also works)."""
    if value is None or isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    return datetime.fromisoformat(value).date() if "T" in value else date.fromisoformat(value)
