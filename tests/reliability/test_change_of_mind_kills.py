"""Hires that change their mind, under SIGKILL: a kill while a hire is settling, at the
re-check that finds it withdrawn, or while un-hires are checked, loses and duplicates nothing.

One script per crash point, with real `poller run --once` processes: three hires are found
settling (a 6 s window); one is dragged back to Interview before it is due, the others are
processed once due; then one of those is rejected and the next full listing flags it. Each
run of the script dies at the crash point when it reaches it, and is run again. The verdict
is the same for every point.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from poller.sandbox import Sandbox
from tests.reliability.conftest import DbFactory
from tests.reliability.harness import PollerCli, Run, ledger_at, report, wait_until_due

SETTLE_S = 6.0
EXTRA = {
    "discovery": {"settle_minutes": SETTLE_S / 60, "full_reconcile_hours": 0.00001},
    "worker": {"concurrency": 2},
}
POINTS = [
    "checkpoint:discover",  # the settling rows are committed, then the process dies
    "checkpoint:watermark",
    "after:fetch",  # the re-check's fetch answered; nothing is written yet
    "checkpoint:fetch:withdrawn",  # the withdrawn row is committed
    "after:unhire_fetch",  # an un-hire candidate was fetched, not yet flagged
]


def _step(cli: PollerCli, db_url: str, point: str, kills: list[Run]) -> None:
    """One run of the script's step: killed at `point` if it gets there, then run again."""
    run = cli.once(crash_at=point)
    if run.killed:
        kills.append(run)
        with ledger_at(db_url) as ledger:
            wait_until_due(ledger, settling=False)  # the killed worker's lease, not the window
        run = cli.once()
    assert run.returncode == 0, run.describe()


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_a_kill_while_settling_rechecking_or_flagging(
    db_factory: DbFactory, tmp_path: Path, point: str
) -> None:
    db_url = db_factory()
    kills: list[Run] = []
    with Sandbox(seed=61, hires=0) as sb:
        stays = sb.pinpoint.add_hire("Sta", "Ys", "sta.ys@example.com")
        misclick = sb.pinpoint.add_hire("Mis", "Click", "mis.click@example.com")
        rejected = sb.pinpoint.add_hire("Rej", "Ected", "rej.ected@example.com")
        cli = PollerCli(tmp_path, sb, db_url, EXTRA)

        _step(cli, db_url, point, kills)  # found, settling
        with ledger_at(db_url) as ledger:
            assert {r.state for r in ledger.rows(limit=0)} == {"settling"}
            sb.pinpoint.move_application(misclick, "Interview")  # the mis-click, undone
            wait_until_due(ledger)
        _step(cli, db_url, point, kills)  # due: two processed, the mis-click withdrawn
        with ledger_at(db_url) as ledger:
            wait_until_due(ledger)
        _step(cli, db_url, point, kills)  # whatever a kill left pending
        sb.pinpoint.move_application(rejected, "Rejected")
        _step(cli, db_url, point, kills)  # a full listing: the rejected one is flagged

        with ledger_at(db_url) as ledger:
            rows = {r.application_id: r for r in ledger.rows(limit=0)}
        audit = sb.audit()
    assert kills, f"{point} was never reached"
    assert rows[stays].state == "done" and rows[stays].unhired_at is None
    assert rows[misclick].state == "withdrawn" and rows[misclick].hibob_employee_id is None
    assert rows[rejected].state == "done" and rows[rejected].unhired_stage == "Rejected"
    created = audit.employees_created_per_email()
    assert created == {"sta.ys@example.com": 1, "rej.ected@example.com": 1}
    assert audit.comments_per_application() == {stays: 1, rejected: 1}
    assert all(n == 1 for n in audit.documents_per_employee().values())
    report(
        "change_of_mind_kills",
        db=db_url.split(":", 1)[0],
        point=point,
        kills=len(kills),
        duplicate_employees=sum(n - 1 for n in created.values()),
        writes_for_the_misclick=0,
        flagged=sum(r.unhired_at is not None for r in rows.values()),
    )
