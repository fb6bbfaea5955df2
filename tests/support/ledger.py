"""Recording hires in a ledger the way discovery does, for tests and bench/."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from poller.discovery import entry
from poller.models import HireSummary
from poller.store.ledger import Ledger


def discover(
    ledger: Ledger,
    hires: Sequence[HireSummary],
    *,
    now: datetime,
    baseline_before: datetime | None = None,
    settle: timedelta = timedelta(0),
) -> dict[str, int]:
    """``ledger.record_discovered`` with discovery's own entry rule."""
    return ledger.record_discovered(
        hires,
        entry=lambda h: entry(h, now=now, settle=settle, baseline_before=baseline_before),
        now=now,
    )
