"""Hires that change their mind, end to end over real HTTP, on SQLite and PostgreSQL.

- moved to Hired and back within the settle window: nothing is written anywhere;
- moved back after the window but before processing finished: the fetch the flow makes
  anyway sees the move, and nothing is written;
- processed, then rejected (or deleted): the next full listing raises the un-hire flag,
  shown by status, list and show and counted in the metrics; HiBob is never touched;
  `poller ack` clears the flag, and it is not raised again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from poller import metrics
from poller.sandbox import Sandbox
from tests.e2e.harness import Poller, make_poller
from tests.e2e.test_cli import poller
from tests.support.config import merged, secrets_env

SETTLE = {"discovery": {"settle_minutes": 10}}
# Every cycle after the first is a full listing (the un-hire check runs on those).
RECONCILE_ALWAYS = {"discovery": {"full_reconcile_hours": 0.00001}}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=23, hires=0) as sb:
        yield sb


def start(tmp_path: Path, sb: Sandbox, db_url: str, extra: dict[str, Any]) -> Poller:
    """A poller on the simulators' clock, which the test moves forward: the settle window
    passes without waiting, and Pinpoint's timestamps agree with the poller's."""
    p = make_poller(tmp_path, sb, db_url, extra)
    p.svc.clock = sb.clock.now
    return p


def writes(sb: Sandbox) -> tuple[int, dict[str, int]]:
    audit = sb.audit()
    return audit.write_requests("hibob"), audit.comments_per_application()


def test_hired_and_back_within_the_window_writes_nothing(
    tmp_path: Path, sandbox: Sandbox, db_url: str
) -> None:
    app = sandbox.pinpoint.add_hire("Mis", "Click", "mis.click@example.com")
    steady = sandbox.pinpoint.add_hire(
        "Old", "Hand", "old.hand@example.com", updated_at=sandbox.clock.now() - timedelta(hours=1)
    )
    p = start(tmp_path, sandbox, db_url, SETTLE)
    try:
        first = p.run()
        assert first.ok and first.discovery is not None and first.discovery.new_settling == 1
        row = p.ledger.get(app)
        assert row is not None and row.state == "settling"
        assert row.next_attempt_at is not None and row.hired_at is not None
        assert row.next_attempt_at - row.hired_at == timedelta(minutes=10)
        assert p.ledger.get(steady).state == "done"  # type: ignore[union-attr]  # hired an hour ago

        sandbox.pinpoint.move_application(app, "Interview")  # the mis-click, undone
        before = writes(sandbox)
        sandbox.clock.advance(11 * 60)
        second = p.run()
        assert second.ok and second.outcomes == {"withdrawn": 1}
        row = p.ledger.get(app)
        assert row is not None and (row.state, row.withdrawn_stage) == ("withdrawn", "Interview")
        assert row.hibob_employee_id is None and row.pinpoint_comment_id is None
        assert writes(sandbox) == before  # 0 HiBob writes, 0 comments
        assert sandbox.hibob.find_employee("mis.click@example.com") is None

        # Dragged to Hired again, for real this time: processed once it has settled.
        sandbox.pinpoint.move_application(app, "hired")
        third = p.run()
        assert third.discovery is not None and third.discovery.returned == 1
        assert p.ledger.get(app).state == "settling"  # type: ignore[union-attr]
        sandbox.clock.advance(11 * 60)
        p.run()
        row = p.ledger.get(app)
        assert row is not None and row.state == "done" and row.hibob_employee_id
        assert sandbox.audit().employees_created_per_email()["mis.click@example.com"] == 1
    finally:
        p.close()


def test_moved_back_before_processing_finished_the_fetch_sees_it(
    tmp_path: Path, sandbox: Sandbox, db_url: str
) -> None:
    app = sandbox.pinpoint.add_hire("Late", "Change", "late.change@example.com")
    p = start(tmp_path, sandbox, db_url, {})
    try:
        sandbox.faults("pinpoint", "GET /applications/{id}", error_rate="always", times=4)
        first = p.run()  # listed and due (no window), but its fetch fails: rescheduled
        assert first.ok and first.outcomes == {"retry": 1}
        sandbox.pinpoint.move_application(app, "Rejected")
        second = p.run()
        assert second.ok and second.outcomes == {"withdrawn": 1}
        row = p.ledger.get(app)
        assert row is not None and (row.state, row.withdrawn_stage) == ("withdrawn", "Rejected")
        assert writes(sandbox) == (0, {})
    finally:
        p.close()


def test_processed_then_rejected_or_deleted_is_flagged_shown_counted_and_acknowledged(
    tmp_path: Path, sandbox: Sandbox, db_url: str
) -> None:
    rejected = sandbox.pinpoint.add_hire("Ann", "Offer", "ann.offer@example.com")
    deleted = sandbox.pinpoint.add_hire("Del", "Eted", "del.eted@example.com")
    stays = sandbox.pinpoint.add_hire("Sta", "Ys", "sta.ys@example.com")
    p = start(tmp_path, sandbox, db_url, RECONCILE_ALWAYS)
    raised = metrics.REGISTRY.get_sample_value("poller_unhired_total") or 0.0
    try:
        p.settle()
        assert {r.state for r in p.ledger.rows(limit=0)} == {"done"}
        employees = {e.id: e for e in sandbox.hibob.employees.values()}
        hibob_writes = sandbox.audit().write_requests("hibob")

        sandbox.pinpoint.move_application(rejected, "Rejected")
        sandbox.pinpoint.delete_application(deleted)
        sandbox.clock.advance(5)
        result = p.run()  # a full listing: the two are missing from it, and fetched
        assert result.ok and result.discovery is not None and result.discovery.unhired == 2
        flagged = {r.application_id: r for r in p.ledger.rows(state="unhired")}
        assert set(flagged) == {rejected, deleted}
        assert flagged[rejected].unhired_stage == "Rejected"
        assert flagged[deleted].unhired_stage == "deleted"
        assert {r.state for r in flagged.values()} == {"done"}  # the state stays as it was
        assert p.ledger.get(stays).unhired_at is None  # type: ignore[union-attr]
        assert metrics.REGISTRY.get_sample_value("poller_unhired_total") == raised + 2
        assert metrics.REGISTRY.get_sample_value("poller_unhired_flags") == 2
        # HR decides: the employees are untouched.
        assert sandbox.audit().write_requests("hibob") == hibob_writes
        assert {e.id: e for e in sandbox.hibob.employees.values()} == employees

        cfg, env = tmp_path / "config.toml", secrets_env(sandbox)
        status = poller("status", config=cfg, env=env)
        assert "Un-hire flags:        2" in status.stdout, status.stdout
        listed = json.loads(
            poller("list", "--state", "unhired", "--format", "json", config=cfg).stdout
        )
        assert {r["application_id"] for r in listed} == {rejected, deleted}
        shown = poller("show", rejected, config=cfg).stdout
        assert "UN-HIRED: no longer in a hired stage (Rejected) since" in shown
        assert f"poller ack {rejected}" in shown

        ack = poller("ack", rejected, "--note", "HR cancelled the start", config=cfg)
        assert ack.returncode == 0, ack.stderr
        assert poller("ack", rejected, config=cfg).returncode == 1  # nothing left to ack
        sandbox.clock.advance(5)
        again = p.run()  # still rejected: the acknowledged flag is not raised again
        assert again.discovery is not None and again.discovery.unhired == 0
        assert [r.application_id for r in p.ledger.rows(state="unhired")] == [deleted]
        assert metrics.REGISTRY.get_sample_value("poller_unhired_flags") == 1
        assert metrics.REGISTRY.get_sample_value("poller_unhired_total") == raised + 2
        history = poller("show", rejected, "--format", "json", config=cfg).stdout
        assert "HR cancelled the start" in history
    finally:
        p.close()


def test_a_flagged_hire_back_in_a_hired_stage_is_simply_done_again(
    tmp_path: Path, sandbox: Sandbox, db_url: str
) -> None:
    app = sandbox.pinpoint.add_hire("Bo", "Omerang", "bo.omerang@example.com")
    p = start(tmp_path, sandbox, db_url, RECONCILE_ALWAYS)
    try:
        p.settle()
        sandbox.pinpoint.move_application(app, "Rejected")
        sandbox.clock.advance(5)
        p.run()
        assert p.ledger.get(app).unhired_stage == "Rejected"  # type: ignore[union-attr]
        sandbox.pinpoint.move_application(app, "hired")
        sandbox.clock.advance(5)
        p.run()
        row = p.ledger.get(app)
        assert row is not None and row.state == "done" and row.unhired_at is None
        assert sandbox.audit().employees_created_per_email() == {"bo.omerang@example.com": 1}
        assert sandbox.audit().comments_per_application() == {app: 1}
    finally:
        p.close()


def test_a_processed_hire_a_full_listing_misses_while_still_hired_is_not_flagged(
    tmp_path: Path, sandbox: Sandbox, db_url: str
) -> None:
    """Missing from a full listing is not an un-hire: a listing can miss a hire for other
    reasons (here the operator narrows discovery to stages named "Hired", and this hire's job
    calls its hired stage "Offer Accepted"). The missed hire is fetched, found still hired,
    and left unflagged; a hire that really moved to Rejected is flagged by the same run."""
    missed = sandbox.pinpoint.add_hire(
        "Nat", "Rowed", "nat.rowed@example.com", job="Account Executive"
    )
    rejected = sandbox.pinpoint.add_hire("Rae", "Jected", "rae.jected@example.com")
    p = start(tmp_path, sandbox, db_url, {})
    try:
        p.settle()
        assert {r.application_id: r.state for r in p.ledger.rows(limit=0)} == {
            missed: "done",
            rejected: "done",
        }
    finally:
        p.close()

    sandbox.pinpoint.move_application(rejected, "Rejected")
    sandbox.clock.advance(5)
    narrowed = tmp_path / "narrowed"
    narrowed.mkdir()
    q = start(
        narrowed,
        sandbox,
        db_url,
        merged(RECONCILE_ALWAYS, {"pinpoint": {"hired_stage_names": ["Hired"]}}),
    )
    try:
        fetches = sandbox.audit().requests("pinpoint", "GET /applications/{id}")
        result = q.run()  # a full listing, narrowed: neither hire is in it
        assert result.ok and result.discovery is not None
        assert result.discovery.reason == "periodic reconciliation"
        assert result.discovery.listed == 0
        # Both were fetched to be checked; only the one no longer hired is flagged.
        assert sandbox.audit().requests("pinpoint", "GET /applications/{id}") == fetches + 2
        still_hired = q.ledger.get(missed)
        assert still_hired is not None
        assert (still_hired.unhired_at, still_hired.unhired_stage) == (None, None), (
            "a hire still in a hired stage got the un-hire flag"
        )
        assert result.discovery.unhired == 1
        assert [r.application_id for r in q.ledger.rows(state="unhired")] == [rejected]
        listed = poller(
            "list", "--state", "unhired", "--format", "json", config=narrowed / "config.toml"
        )
        assert listed.returncode == 0, listed.stderr
        assert [r["application_id"] for r in json.loads(listed.stdout)] == [rejected]
    finally:
        q.close()
