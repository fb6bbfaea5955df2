"""The listing plan, watermark and refused-filter arithmetic: pure, no I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from poller.discovery import (
    REFUSAL_MEMORY,
    narrow,
    next_watermark,
    plan_listing,
    remembered_refusals,
    with_refusals,
)
from poller.models import HireSummary, RefusedFilter

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


# --- refused filters, remembered between runs --------------------------------------------


def test_refusals_are_remembered_for_a_day_then_tried_again() -> None:
    stored = with_refusals({}, (RefusedFilter("filter[updated_at][gt]", "Unknown filter"),), NOW)
    raw = json.dumps(stored)
    assert set(remembered_refusals(raw, NOW + REFUSAL_MEMORY - timedelta(seconds=1))) == {
        "filter[updated_at][gt]"
    }
    assert remembered_refusals(raw, NOW + REFUSAL_MEMORY) == {}
    assert stored["filter[updated_at][gt]"]["reason"] == "Unknown filter"


def test_a_new_refusal_keeps_the_ones_remembered_before() -> None:
    earlier = with_refusals({}, (RefusedFilter("filter[updated_at][gt]", "Unknown filter"),), WM)
    later = with_refusals(earlier, (RefusedFilter("filter[stage_basic_type]", "Nope"),), NOW)
    assert later == {
        "filter[updated_at][gt]": {"at": WM.isoformat(), "reason": "Unknown filter"},
        "filter[stage_basic_type]": {"at": NOW.isoformat(), "reason": "Nope"},
    }
    assert set(remembered_refusals(json.dumps(later), NOW)) == set(later)
    # Refused again: its time moves on; the other one is kept as it was.
    again = with_refusals(later, (RefusedFilter("filter[updated_at][gt]", "Still no"),), NOW)
    assert again["filter[updated_at][gt]"] == {"at": NOW.isoformat(), "reason": "Still no"}
    assert again["filter[stage_basic_type]"] == later["filter[stage_basic_type]"]
    assert earlier == {"filter[updated_at][gt]": {"at": WM.isoformat(), "reason": "Unknown filter"}}


@pytest.mark.parametrize("raw", [None, "", "not json", "[1]", '{"x": {"at": "soon"}}', '{"x": 1}'])
def test_unreadable_refusal_records_are_ignored(raw: str | None) -> None:
    assert remembered_refusals(raw, NOW) == {}


def test_narrowing_keeps_configured_stages_and_rows_without_a_stage() -> None:
    rows = (
        HireSummary("1", NOW, stage_id="302"),
        HireSummary("2", NOW, stage_id="401"),
        HireSummary("3", NOW, stage_id=None),
    )
    assert [h.id for h in narrow(rows, frozenset({"302"}))] == ["1", "3"]
