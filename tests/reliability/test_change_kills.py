"""After the hire, under SIGKILL: a kill anywhere while a change is seen or written to HiBob
neither loses it nor writes it twice in a way a person would see.

One script per crash point, with real `poller run --once` processes: three hires are
processed; then one's start date moves, one's surname is corrected and one's email changes.
Every cycle is a full listing, so it doesn't matter whether Pinpoint moves updated_at. Each
run dies at the crash point when it reaches it, and is run again once the killed run's lease
has run out. The verdict is the same for every point.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from poller.sandbox import Sandbox
from poller.store.ledger import Ledger
from tests.reliability.conftest import DbFactory
from tests.reliability.harness import PollerCli, Run, finish, ledger_at, report, settle

EXTRA = {"discovery": {"full_reconcile_hours": 0.00001}, "worker": {"concurrency": 2}}
POINTS = [
    "checkpoint:change_seen",  # the sighting and its changes are committed
    "checkpoint:change:started",  # the intent to write is committed
    "after:start_date_write",  # HiBob took the start date; not yet recorded
    "after:name_write",  # HiBob took the name; not yet recorded
    "after:change_read",  # a read-back after an uncertain write answered
    "checkpoint:change_synced",  # the write is recorded
]


def wait_for_change_leases(ledger: Ledger, limit: float = 10.0) -> None:
    """Wait out the lease of a killed run's change, computed from the rows."""
    rows = [c for r in ledger.rows(limit=0) for c in ledger.changes_of(r.application_id)]
    leases = [c.lease_expires_at for c in rows if c.action == "pending" and c.claimed_by]
    if leases:
        wait = (max(leases) - datetime.now(UTC)).total_seconds() + 0.05
        assert wait <= limit
        time.sleep(max(0.0, wait))


def _step(cli: PollerCli, db_url: str, point: str, kills: list[Run]) -> None:
    run = cli.once(crash_at=point)
    if run.killed:
        kills.append(run)
        with ledger_at(db_url) as ledger:
            wait_for_change_leases(ledger)
        run = cli.once()
    assert run.returncode == 0, run.describe()


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_a_kill_while_a_change_is_seen_or_written(
    db_factory: DbFactory, tmp_path: Path, point: str
) -> None:
    db_url = db_factory()
    kills: list[Run] = []
    with Sandbox(seed=71, hires=0) as sb:
        pp = sb.pinpoint
        today = sb.clock.now().date()
        later = (today + timedelta(days=30)).isoformat()
        moved = pp.add_hire("Ada", "Lovelace", "ada@example.com", start_date=later)
        misspelt = pp.add_hire("Grace", "Hoper", "grace@example.com", start_date=later)
        emailed = pp.add_hire("Alan", "Turing", "alan@example.com", start_date=later)
        cli = PollerCli(tmp_path, sb, db_url, EXTRA)
        with ledger_at(db_url) as ledger:
            settle(cli, ledger)
            employee = {r.application_id: r.hibob_employee_id for r in ledger.rows(limit=0)}
        before = sb.audit()

        new_start = (today + timedelta(days=44)).isoformat()
        pp.update_offer(pp.applications[moved].offers[-1].id, start_on=new_start)
        pp.edit_candidate(misspelt, last_name="Hopper")
        pp.edit_candidate(emailed, email="alan.turing@example.com")
        if point == "after:change_read":  # reached only after an uncertain write: make one
            sb.faults("hibob", "POST /employees/{id}/start-date", lose_rate="always", times=1)
        for _ in range(3):
            _step(cli, db_url, point, kills)
        with ledger_at(db_url) as ledger:
            found = {
                app: [(c.field, c.new_value, c.action) for c in ledger.changes_of(app)]
                for app in (moved, misspelt, emailed)
            }
        audit = sb.audit()
        hibob = sb.hibob.employees
    assert kills, f"{point} was never reached"
    assert found == {
        moved: [("start_date", new_start, "synced")],
        misspelt: [("name", "Grace Hopper", "synced")],
        emailed: [("email", "alan.turing@example.com", "flagged")],
    }
    assert audit.start_date_writes_per_employee() == {employee[moved]: 1}
    assert audit.name_writes_per_employee() == {employee[misspelt]: 1}
    assert audit.invitations_per_employee() == {}
    assert hibob[employee[moved]].start_date == new_start
    assert hibob[employee[misspelt]].surname == "Hopper"
    assert audit.employees_created == before.employees_created
    assert audit.comments_per_application() == before.comments_per_application()
    report(
        "change_kills",
        db=db_url.split(":", 1)[0],
        point=point,
        kills=len(kills),
        start_date_writes=sum(audit.start_date_writes_per_employee().values()),
        name_writes=sum(audit.name_writes_per_employee().values()),
    )


@pytest.mark.slow
def test_overlapping_runs_write_each_change_once(db_url: str, tmp_path: Path) -> None:
    """Four `poller run --once` at once after 10 start dates moved and 10 surnames were
    corrected: each change is recorded once and written once, by one of them."""
    with Sandbox(seed=73, hires=0) as sb:
        pp = sb.pinpoint
        today = sb.clock.now().date()
        start = (today + timedelta(days=30)).isoformat()
        hires = [
            pp.add_hire(f"First{i}", f"Last{i}", f"p{i}@example.com", start_date=start)
            for i in range(20)
        ]
        cli = PollerCli(tmp_path, sb, db_url, {**EXTRA, "worker": {"lease_seconds": 60}})
        with ledger_at(db_url) as ledger:
            settle(cli, ledger)
        moved = (today + timedelta(days=40)).isoformat()
        for app in hires[:10]:
            pp.update_offer(pp.applications[app].offers[-1].id, start_on=moved)
        for app in hires[10:]:
            pp.edit_candidate(app, last_name="Corrected")
        sb.faults("hibob", "*", latency_ms=30)  # long enough for all to join in
        runs = [finish(p) for p in [cli.start("run", "--once") for _ in range(4)]]
        assert all(r.returncode == 0 for r in runs), [r.describe() for r in runs]
        with ledger_at(db_url) as ledger:
            found = {app: [(c.field, c.action) for c in ledger.changes_of(app)] for app in hires}
        audit = sb.audit()
    assert all(found[app] == [("start_date", "synced")] for app in hires[:10]), found
    assert all(found[app] == [("name", "synced")] for app in hires[10:]), found
    assert sum(audit.start_date_writes_per_employee().values()) == 10
    assert set(audit.start_date_writes_per_employee().values()) == {1}
    assert sum(audit.name_writes_per_employee().values()) == 10
    assert set(audit.name_writes_per_employee().values()) == {1}
