"""After the hire, end to end over real HTTP, on SQLite and PostgreSQL, whether or not
Pinpoint moves an application's updated_at when its offer, candidate or job changes:

- a moved start date reaches HiBob once (also when the write's answer is lost);
- a corrected surname reaches HiBob once (also when the first write's answer is lost);
- an email change and a job moved to another site are open changes, nothing written;
- an employee who already started gets flags instead of writes;
- no create, upload or comment follows a change, and a further cycle writes nothing;
- `poller ack` closes a change; `list --state changed`, `status` and `show` tell them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from poller import metrics
from poller.sandbox import Sandbox
from poller.sandbox.data import LONDON
from tests.e2e.harness import Poller, make_poller
from tests.e2e.test_cli import poller
from tests.support.config import secrets_env

DAILY = {"discovery": {"full_reconcile_hours": 24}}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=31, hires=0) as sb:
        yield sb


@pytest.fixture(params=[True, False], ids=["updated_at-moves", "updated_at-stays"])
def touch(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def start(tmp_path: Path, sb: Sandbox, db_url: str, extra: dict[str, Any] | None = None) -> Poller:
    p = make_poller(tmp_path, sb, db_url, {**DAILY, **(extra or {})})
    p.svc.clock = sb.clock.now
    return p


def days(n: int, today: date) -> str:
    return (today + timedelta(days=n)).isoformat()


def counted(field: str, action: str) -> float:
    labels = {"field": field, "action": action}
    return metrics.REGISTRY.get_sample_value("poller_changes_total", labels) or 0.0


COUNTED = [("start_date", "synced"), ("name", "synced"), ("email", "flagged"), ("job", "flagged")]
COUNTED += [("start_date", "flagged"), ("name", "flagged")]


def changes_of(p: Poller, app_id: str) -> list[tuple[str, str | None, str | None, str]]:
    return [(c.field, c.old_value, c.new_value, c.action) for c in p.ledger.changes_of(app_id)]


def test_changes_after_the_hire_are_synced_or_flagged_once(
    tmp_path: Path, sandbox: Sandbox, db_url: str, touch: bool
) -> None:
    pp, sb = sandbox.pinpoint, sandbox
    pp.configure({"edits_touch_updated_at": touch})
    today = sb.clock.now().date()
    moved = pp.add_hire("Ada", "Lovelace", "ada@example.com", start_date=days(30, today))
    misspelt = pp.add_hire("Grace", "Hoper", "grace@example.com", start_date=days(20, today))
    emailed = pp.add_hire("Alan", "Turing", "alan@example.com", start_date=days(25, today))
    relocated = pp.add_hire(
        "Edsger", "Dijkstra", "edsger@example.com", job="Product Manager", start_date=days(9, today)
    )
    started = pp.add_hire("Barbara", "Liskov", "barbara@example.com", start_date=days(-3, today))
    p = start(tmp_path, sb, db_url)
    try:
        p.settle()
        rows = {r.application_id: r for r in p.ledger.rows(limit=0)}
        assert {r.state for r in rows.values()} == {"done"}
        employee = {app: rows[app].hibob_employee_id for app in rows}
        before = sb.audit()
        count_before = {key: counted(*key) for key in COUNTED}

        sb.clock.advance(3600)  # the hires' updated_at leave the listing's overlap window
        assert p.run().ok
        offer = pp.applications[moved].offers[-1].id
        pp.update_offer(offer, start_on=days(44, today))
        pp.edit_candidate(misspelt, last_name="Hopper")
        pp.edit_candidate(emailed, email="alan.turing@example.com")
        pp.edit_job(pp.applications[relocated].job_id, location=LONDON)
        pp.update_offer(pp.applications[started].offers[-1].id, start_on=days(4, today))
        pp.edit_candidate(started, first_name="Barb")
        # The first write of each answered with a lost answer: it lands all the same.
        sb.faults("hibob", "PUT /people/{id}", lose_rate="always", times=1)
        sb.faults("hibob", "POST /employees/{id}/start-date", lose_rate="always", times=1)

        incremental = p.run()
        assert incremental.ok
        if not touch:  # nothing listed: the daily full listing is the backstop
            assert all(not p.ledger.changes_of(app) for app in rows)
            sb.clock.advance(25 * 3600)
            assert p.run().ok
        assert p.run().ok  # a further cycle (and, below, a full one) writes nothing more
        sb.clock.advance(25 * 3600)
        assert p.run().ok

        after = sb.audit()
        assert after.start_date_writes_per_employee() == {employee[moved]: 1}
        assert after.name_writes_per_employee() == {employee[misspelt]: 1}
        assert after.invitations_per_employee() == {}
        hibob = sb.hibob.employees
        assert hibob[employee[moved]].start_date == days(44, today)
        assert hibob[employee[misspelt]].surname == "Hopper"
        assert hibob[employee[started]].first_name == "Barbara"  # started: not written
        # No create, upload or comment followed a change.
        assert after.employees_created == before.employees_created
        assert after.documents == before.documents
        assert after.comments_per_application() == before.comments_per_application()

        assert changes_of(p, moved) == [("start_date", days(30, today), days(44, today), "synced")]
        assert changes_of(p, misspelt) == [("name", "Grace Hoper", "Grace Hopper", "synced")]
        assert changes_of(p, emailed) == [
            ("email", "alan@example.com", "alan.turing@example.com", "flagged")
        ]
        assert changes_of(p, relocated) == [("job", "site: New York", "site: London", "flagged")]
        assert sorted(changes_of(p, started)) == [
            ("name", "Barbara Liskov", "Barb Liskov", "flagged"),
            ("start_date", days(-3, today), days(4, today), "flagged"),
        ]
        assert p.ledger.get(moved).start_date.isoformat() == days(44, today)  # type: ignore[union-attr]
        assert p.ledger.get(misspelt).candidate_name == "Grace Hopper"  # type: ignore[union-attr]
        assert p.ledger.open_changes()[0] == 4
        assert {key: counted(*key) - count_before[key] for key in COUNTED} == dict.fromkeys(
            COUNTED, 1.0
        )
        assert metrics.REGISTRY.get_sample_value("poller_change_flags") == 4

        cfg = tmp_path / "config.toml"
        env = secrets_env(sb)
        listed = json.loads(
            poller("list", "--state", "changed", "--format", "json", config=cfg, env=env).stdout
        )
        assert {r["application_id"] for r in listed} == {emailed, relocated, started}
        status = json.loads(poller("status", "--format", "json", config=cfg, env=env).stdout)
        assert status["open_changes"] == 4
        shown = poller("show", emailed, config=cfg, env=env).stdout
        assert "alan@example.com -> alan.turing@example.com" in shown and "flagged" in shown
        shown = json.loads(poller("show", moved, "--format", "json", config=cfg, env=env).stdout)
        assert [(c["field"], c["action"]) for c in shown["changes"]] == [("start_date", "synced")]

        acked = poller("ack", emailed, "--note", "HR updated the email", config=cfg, env=env)
        assert acked.returncode == 0 and "1 open change(s) closed" in acked.stdout
        assert p.ledger.open_changes()[0] == 3
        again = poller("ack", emailed, config=cfg, env=env)
        assert again.returncode == 1 and "nothing to acknowledge" in again.stderr
    finally:
        p.close()


def test_a_hire_processed_before_it_was_watched_starts_from_what_was_sent(
    tmp_path: Path, sandbox: Sandbox, db_url: str
) -> None:
    """A row from before this release (no `watched`): the start date it was sent is known
    from the row, so a start date moved since is still written; the rest is watched from the
    first sighting."""
    today = sandbox.clock.now().date()
    app = sandbox.pinpoint.add_hire("Old", "Row", "old.row@example.com", start_date=days(30, today))
    p = start(tmp_path, sandbox, db_url)
    try:
        p.settle()
        with p.ledger.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE processed_applications SET watched = NULL")
        sandbox.clock.advance(3600)
        offer = sandbox.pinpoint.applications[app].offers[-1].id
        sandbox.pinpoint.update_offer(offer, start_on=days(40, today))
        sandbox.pinpoint.edit_candidate(app, first_name="Older")
        assert p.run().ok
        assert changes_of(p, app) == [("start_date", days(30, today), days(40, today), "synced")]
        assert p.run().ok
        assert sandbox.audit().start_date_writes_per_employee() == {
            p.ledger.get(app).hibob_employee_id: 1  # type: ignore[union-attr]
        }
    finally:
        p.close()
