"""The settle window's arithmetic, and the ledger's side of hires that change their mind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from poller.discovery import entry
from poller.models import Entry, HireSummary, State
from poller.store import ledger as ledger_module
from poller.store.ledger import Ledger
from tests.support.ledger import discover

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
TEN = timedelta(minutes=10)


@pytest.mark.parametrize(
    ("hired_at", "settle", "state", "due"),
    [
        (None, timedelta(0), State.PENDING, None),  # no window: at once
        (NOW + timedelta(minutes=2), timedelta(0), State.PENDING, None),  # even if ahead of us
        (NOW - timedelta(minutes=3), timedelta(0), State.PENDING, None),
        (NOW - timedelta(minutes=3), TEN, State.SETTLING, NOW + timedelta(minutes=7)),
        (NOW - timedelta(minutes=10), TEN, State.PENDING, None),  # exactly due
        (NOW - timedelta(hours=5), TEN, State.PENDING, None),
        (None, TEN, State.SETTLING, NOW + TEN),  # first seen now, when Pinpoint says nothing
    ],
)
def test_the_window_counts_from_hired_at_else_from_first_seen(
    hired_at: datetime | None, settle: timedelta, state: State, due: datetime | None
) -> None:
    hire = HireSummary("1", NOW - timedelta(minutes=1), hired_at=hired_at)
    got = entry(hire, now=NOW, settle=settle, baseline_before=None)
    assert (got.state, got.due, got.hired_at) == (state, due, hired_at or NOW)


def test_the_first_cycle_baselines_old_hires_whatever_the_window() -> None:
    old = HireSummary("1", NOW - timedelta(days=400), hired_at=NOW - timedelta(days=400))
    got = entry(old, now=NOW, settle=TEN, baseline_before=NOW - timedelta(days=30))
    assert got.state == State.BASELINE


def test_a_settling_hire_is_claimed_only_once_due(ledger: Ledger) -> None:
    discover(ledger, [HireSummary("1", NOW, hired_at=NOW)], now=NOW, settle=TEN)
    row = ledger.get("1")
    assert row is not None and (row.state, row.next_attempt_at, row.hired_at) == (
        "settling",
        NOW + TEN,
        NOW,
    )
    assert ledger.claim_next("w", lease_seconds=60, now=NOW + timedelta(minutes=9)) is None
    claimed = ledger.claim_next("w", lease_seconds=60, now=NOW + TEN)
    assert claimed is not None and claimed.application_id == "1"


def test_a_withdrawn_hire_listed_as_hired_again_starts_over(ledger: Ledger) -> None:
    discover(ledger, [HireSummary("1", NOW)], now=NOW)
    assert ledger.claim_next("w", lease_seconds=60, now=NOW) is not None
    ledger.checkpoint(
        "1",
        "w",
        step="fetch",
        outcome="withdrawn",
        state="withdrawn",
        claimed_by=None,
        withdrawn_stage="Interview",
    )
    later = NOW + timedelta(hours=1)
    back = HireSummary("1", later, hired_at=later)
    counts = discover(ledger, [back], now=later, settle=TEN)
    assert counts["returned"] == 1
    row = ledger.get("1")
    assert row is not None and (row.state, row.withdrawn_stage) == ("settling", None)
    assert row.next_attempt_at == later + TEN and row.attempts == 0
    assert [e.outcome for e in ledger.events("1")][-1] == "hired_again"


def test_a_return_moves_only_a_row_that_is_still_withdrawn(ledger: Ledger) -> None:
    """The return is a compare-and-set: a row another replica moved on since it was read as
    withdrawn (claimed here) is left as that replica has it."""
    discover(ledger, [HireSummary("1", NOW)], now=NOW)
    assert ledger.claim_next("w", lease_seconds=60, now=NOW) is not None
    later = NOW + timedelta(hours=1)
    with ledger.engine.begin() as conn:
        moved = ledger_module._return(
            conn, HireSummary("1", later), Entry(State.PENDING, None, later), later
        )
    assert moved == 0
    row = ledger.get("1")
    assert row is not None and (row.state, row.claimed_by, row.attempts) == ("in_progress", "w", 1)
    assert "hired_again" not in [e.outcome for e in ledger.events("1")]


def test_flags_are_raised_once_listed_by_unhired_cleared_by_ack_and_not_raised_again(
    ledger: Ledger,
) -> None:
    discover(ledger, [HireSummary(i, NOW) for i in ("1", "2", "3")], now=NOW)
    for _ in ("1", "2"):  # processed: an employee each
        assert ledger.claim_next("w", lease_seconds=60, now=NOW) is not None
    for app in ("1", "2"):
        ledger.checkpoint(
            app,
            "w",
            step="employee",
            outcome="created",
            hibob_employee_id=f"e{app}",
            state="done",
            claimed_by=None,
        )
    assert sorted(ledger.unhire_candidates()) == ["1", "2"]  # "3" has no employee
    assert ledger.flag_unhired("1", "Rejected", now=NOW)
    assert not ledger.flag_unhired("1", "Rejected", now=NOW)  # once
    assert ledger.unhired_count() == 1
    assert [r.application_id for r in ledger.rows(state="unhired")] == ["1"]
    assert ledger.unhire_candidates() == ["2"]
    row = ledger.get("1")
    assert row is not None and (row.state, row.unhired_stage) == ("done", "Rejected")

    assert ledger.ack("1", now=NOW, note="HR terminated the record") == (True, 0)
    assert ledger.ack("1", now=NOW, note=None) == (False, 0)  # nothing left to acknowledge
    assert ledger.unhired_count() == 0 and ledger.unhire_candidates() == ["2"]
    events = ledger.events("1")
    assert [(e.step, e.outcome) for e in events][-2:] == [
        ("unhire", "flagged"),
        ("operator", "acknowledged"),
    ]
    assert events[-1].message == "HR terminated the record"


def test_a_flagged_hire_listed_as_hired_again_is_simply_unflagged(ledger: Ledger) -> None:
    discover(ledger, [HireSummary("1", NOW)], now=NOW)
    assert ledger.claim_next("w", lease_seconds=60, now=NOW) is not None
    ledger.checkpoint(
        "1",
        "w",
        step="employee",
        outcome="created",
        hibob_employee_id="e1",
        state="done",
        claimed_by=None,
    )
    ledger.flag_unhired("1", "deleted", now=NOW)
    counts = discover(ledger, [HireSummary("1", NOW)], now=NOW)
    assert counts["unflagged"] == 1 and ledger.unhired_count() == 0
    row = ledger.get("1")
    assert row is not None and (row.state, row.hibob_employee_id) == ("done", "e1")
    assert ledger.unhire_candidates() == ["1"]  # a later un-hire flags it again


def _withdraw(ledger: Ledger, app_id: str) -> None:
    assert ledger.claim_next("w", lease_seconds=60, now=NOW, exclude=()) is not None
    ledger.checkpoint(
        app_id, "w", step="fetch", outcome="withdrawn", state="withdrawn", claimed_by=None
    )


def test_a_return_records_what_the_listing_says_and_touches_no_other_row(ledger: Ledger) -> None:
    discover(ledger, [HireSummary("1", NOW), HireSummary("2", NOW)], now=NOW)
    _withdraw(ledger, "1")
    _withdraw(ledger, "2")
    later = NOW + timedelta(hours=1)
    hired = later - timedelta(minutes=30)
    counts = discover(ledger, [HireSummary("1", later, hired_at=hired)], now=later)
    assert counts["returned"] == 1
    row = ledger.get("1")
    assert row is not None
    assert (row.state, row.hired_at, row.pinpoint_updated_at, row.updated_at) == (
        "pending",
        hired,
        later,
        later,
    )
    last = ledger.events("1")[-1]
    assert (last.step, last.outcome, last.message) == (
        "discover",
        "hired_again",
        "back in a hired stage",
    )
    other = ledger.get("2")
    assert other is not None and other.state == "withdrawn"  # not listed: left as it was


def test_a_first_cycle_listing_returns_a_withdrawn_row_as_pending_not_baseline(
    ledger: Ledger,
) -> None:
    discover(ledger, [HireSummary("1", NOW)], now=NOW)
    _withdraw(ledger, "1")
    old = HireSummary("1", NOW - timedelta(days=400))
    discover(ledger, [old], now=NOW, baseline_before=NOW)  # the rule would say baseline
    row = ledger.get("1")
    assert row is not None and row.state == "pending"


@pytest.mark.parametrize("acknowledged", [False, True])
def test_an_unflagged_row_forgets_the_whole_flag(ledger: Ledger, acknowledged: bool) -> None:
    discover(ledger, [HireSummary("1", NOW)], now=NOW)
    assert ledger.claim_next("w", lease_seconds=60, now=NOW) is not None
    ledger.checkpoint(
        "1",
        "w",
        step="comment",
        outcome="done",
        hibob_employee_id="e1",
        state="done",
        claimed_by=None,
    )
    ledger.flag_unhired("1", "Rejected", now=NOW)
    if acknowledged:
        ledger.ack("1", now=NOW, note="seen")
    later = NOW + timedelta(hours=1)
    assert discover(ledger, [HireSummary("1", later)], now=later)["unflagged"] == 1
    row = ledger.get("1")
    assert row is not None
    assert (row.unhired_at, row.unhired_stage, row.unhired_acked_at, row.updated_at) == (
        None,
        None,
        None,
        later,
    )
    last = ledger.events("1")[-1]
    assert (last.step, last.outcome, last.message) == (
        "unhire",
        "cleared",
        "back in a hired stage: flag cleared",
    )
