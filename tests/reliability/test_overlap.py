"""Issue 4.2: overlapping runs on one database never process an application twice, and a killed
worker's lease expires so that another worker finishes its row."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from poller.errors import StoreError
from poller.sandbox import Sandbox
from tests.reliability.harness import (
    SEED,
    PollerCli,
    finish,
    ledger_at,
    report,
    settle,
    tally,
    wait_until_due,
    worker_pid,
)

HIRES = 50


@pytest.mark.slow
@pytest.mark.parametrize("processes", [2, 4])
def test_overlapping_runs_never_share_an_application(
    db_url: str, tmp_path: Path, processes: int
) -> None:
    started = time.monotonic()
    with Sandbox(seed=SEED + processes, hires=0) as sb:
        hires = sb.pinpoint.seed_hires(HIRES)
        sb.faults("hibob", "POST /people", latency_ms=40)  # long enough for all to join in
        cli = PollerCli(tmp_path, sb, db_url, {"worker": {"lease_seconds": 60}})
        # All start together on a fresh database: they race on the migration too.
        procs = [cli.start("run", "--once") for _ in range(processes)]
        runs = [finish(p) for p in procs]
        assert all(r.returncode == 0 for r in runs), [r.describe() for r in runs]
        with ledger_at(db_url) as ledger:
            assert ledger.counts()["done"] == HIRES
            t = tally(sb, ledger, hires)
            workers = {app: {e.worker for e in ledger.events(app) if e.worker} for app in hires}
            links = {
                app: [
                    e.worker
                    for e in ledger.events(app)
                    if e.step == "employee" and e.outcome in ("created", "linked_existing")
                ]
                for app in hires
            }
        audit = sb.audit()
    shared = {app: w for app, w in workers.items() if len(w) != 1}
    pids = Counter(worker_pid(next(iter(w))) for w in workers.values() if w)
    report(
        "overlap",
        db=db_url.split(":", 1)[0],
        processes=processes,
        hires=HIRES,
        applications_per_process=sorted(pids.values()),
        creates_attempted=audit.requests("hibob", "POST /people"),
        duplicate_employees=t.duplicate_employees,
        duplicate_documents=t.duplicate_documents,
        duplicate_comments=t.duplicate_comment_total,
        hires_lost=len(t.lost),
        seconds=round(time.monotonic() - started, 1),
    )
    assert len(pids) >= 2, f"the runs did not overlap: {pids}"
    assert shared == {}, "applications worked by more than one worker"
    assert all(len(w) == 1 for w in links.values()), links
    # No create was attempted twice for one email: as many POST /people as hires, each applied.
    assert audit.requests("hibob", "POST /people") == HIRES
    assert sorted(audit.employees_created_per_email().values()) == [1] * HIRES
    assert t.lost == [] and t.missing == []
    assert (t.duplicate_employees, t.duplicate_documents, t.duplicate_comment_total) == (0, 0, 0)


def test_a_killed_workers_lease_expires_and_another_worker_finishes(
    db_url: str, tmp_path: Path
) -> None:
    with Sandbox(seed=SEED, hires=0) as sb:
        app = sb.pinpoint.add_hire("Lea", "Sing", "lea@example.com", cv="pdf")
        # Long enough that the second run surely starts within it, even on a loaded machine.
        cli = PollerCli(tmp_path, sb, db_url, {"worker": {"lease_seconds": 6}})
        killed = cli.once(crash_at="checkpoint:employee:created")
        assert killed.killed
        with ledger_at(db_url) as ledger:
            held = ledger.get(app)
            assert held is not None and held.state == "in_progress"
            assert worker_pid(held.claimed_by) == killed.pid
            early = cli.once()  # the lease is live: this run must leave the row alone
            assert early.returncode == 0, early.describe()
            assert held.lease_expires_at is not None
            still = ledger.get(app)
            assert still == held, "a live lease was taken over"
            wait_until_due(ledger)
            (late,) = settle(cli, ledger)
            row = ledger.get(app)
            events = ledger.events(app)
    assert row is not None and row.state == "done" and row.claimed_by is None
    assert row.employee_link == "created" and row.cv_status == "uploaded"
    by_pid = {(e.step, e.outcome): worker_pid(e.worker) for e in events if e.worker}
    assert by_pid[("employee", "created")] == killed.pid
    assert by_pid[("comment", "done")] == late.pid
    audit = sb.audit()
    assert audit.employees_created_per_email() == {"lea@example.com": 1}
    assert audit.requests("hibob", "POST /people") == 1
    assert sum(audit.documents_per_employee().values()) == 1
    assert audit.comments_per_application() == {app: 1}


def test_pods_starting_together_on_a_fresh_database_all_migrate(
    db_url: str, tmp_path: Path
) -> None:
    """Two CronJob pods (or replicas) whose first run is at the same moment both apply the
    migrations (database.auto_migrate): neither may fail with "relation already exists"."""
    with Sandbox(seed=SEED, hires=0) as sb:
        cli = PollerCli(tmp_path, sb, db_url)
        runs = [finish(p) for p in [cli.start("db", "upgrade") for _ in range(4)]]
    assert [r.returncode for r in runs] == [0, 0, 0, 0], [r.describe() for r in runs]


def test_two_first_cycles_racing_to_save_the_watermark(postgres_url: str) -> None:
    """Two processes' first cycles both save `watermark` (a key not there yet). The second must
    not fail the whole cycle with a duplicate key: saving state is an upsert."""
    from sqlalchemy import insert, text

    from poller.store.schema import poller_state

    with ledger_at(postgres_url) as ledger, ledger_at(postgres_url) as other:
        ledger.migrate()
        now = datetime.now(UTC)
        with other.engine.connect() as conn:
            tx = conn.begin()  # the other process: inserted, not yet committed
            conn.execute(insert(poller_state).values(key="watermark", value="a", updated_at=now))
            errors: list[BaseException] = []

            def save() -> None:
                try:
                    ledger.set_state({"watermark": "b"}, now=now)
                except StoreError as exc:  # reported below, in the test's thread
                    errors.append(exc)

            thread = threading.Thread(target=save)
            thread.start()
            deadline = time.monotonic() + 10
            waiting = text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            while not conn.execute(waiting).scalar() and time.monotonic() < deadline:
                time.sleep(0.02)  # until set_state waits on our uncommitted row
            tx.commit()
            thread.join(timeout=10)
        assert errors == []
        assert ledger.get_state()["watermark"] == "b"
