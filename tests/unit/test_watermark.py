"""The listing plan and watermark arithmetic: pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from poller.discovery import next_watermark, plan_listing

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WM = NOW - timedelta(minutes=5)
OVERLAP = timedelta(minutes=10)


def plan(**kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "watermark": WM,
        "table_empty": False,
        "last_full": NOW - timedelta(hours=1),
        "now": NOW,
        "overlap": OVERLAP,
        "full_every": timedelta(hours=24),
        "configured_backfill": None,
        "backfill_override": None,
        "filter_supported": True,
    }
    args.update(kw)
    return plan_listing(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "since", "first", "baseline_before", "reason"),
    [
        ({}, WM - OVERLAP, False, None, "incremental"),
        ({"watermark": None, "table_empty": True}, None, True, NOW, "first cycle"),
        (
            {
                "watermark": None,
                "table_empty": True,
                "configured_backfill": NOW - timedelta(days=9),
            },
            None,
            True,
            NOW - timedelta(days=9),
            "first cycle",
        ),
        (
            {
                "watermark": None,
                "table_empty": True,
                "configured_backfill": NOW - timedelta(days=9),
                "backfill_override": NOW - timedelta(days=90),
            },
            None,
            True,
            NOW - timedelta(days=90),
            "first cycle",
        ),
        (
            {"backfill_override": NOW - timedelta(days=90)},
            NOW - timedelta(days=90),
            False,
            None,
            "backfill",
        ),
        ({"filter_supported": False}, None, False, None, "full listing"),
        ({"last_full": NOW - timedelta(hours=25)}, None, False, None, "periodic reconciliation"),
        ({"last_full": None}, None, False, None, "periodic reconciliation"),
        ({"last_full": None, "full_every": None}, WM - OVERLAP, False, None, "incremental"),
        # Rows exist but the watermark was lost: list everything, baseline nothing.
        ({"watermark": None}, None, False, None, "full listing"),
    ],
)
def test_plan_listing(kw, since, first, baseline_before, reason) -> None:  # type: ignore[no-untyped-def]
    p = plan(**kw)
    assert (p.since, p.first_cycle, p.baseline_before, p.reason) == (
        since,
        first,
        baseline_before,
        reason,
    )


def test_watermark_never_moves_back_nor_past_the_listing_start() -> None:
    assert next_watermark(None, NOW) == NOW
    assert next_watermark(NOW - timedelta(hours=1), NOW) == NOW
    assert next_watermark(NOW + timedelta(hours=1), NOW) == NOW + timedelta(hours=1)
