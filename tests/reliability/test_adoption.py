"""A person already in HiBob, with their CV, gets no second CV whatever interrupted the employee
step: a kill after the search (run 1 learned "already exists", then died), or a 5xx on the first
create (nothing applied; then found by search).

The trap: on the rerun the row has `create_started_at`, so an employee found by email looks like
our own create, and a CV step that checks documents only for linked employees (or after an
interrupted upload) uploads the CV a second time. After a 5xx, "created" or "linked" can't be
told apart (the create may have landed); after a kill that followed HiBob's "already exists"
answer, the row can know, and must say linked_existing.
"""

from __future__ import annotations

from pathlib import Path

from poller.models import Record
from poller.sandbox import Sandbox
from tests.reliability.harness import PollerCli, employee_with_cv, ledger_at, settle, wait_until_due


def _world(sb: Sandbox) -> tuple[str, str]:
    employee = employee_with_cv(sb, "Dee", "Hasdoc", "dee@example.com")
    return employee, sb.pinpoint.add_hire("Dee", "Hasdoc", "dee@example.com", cv="pdf")


def _assert_adopted_once(sb: Sandbox, db_url: str, employee: str, app: str) -> Record:
    with ledger_at(db_url) as ledger:
        row = ledger.get(app)
    assert row is not None and row.state == "done"
    assert sb.audit().employees_created_per_email() == {}
    assert [d.name for d in sb.hibob.documents_of(employee)] == ["CV - Dee Hasdoc.pdf"]
    assert (row.hibob_employee_id, row.cv_status) == (employee, "already_there")
    return row


def test_killed_after_the_search_the_rerun_still_links(tmp_path: Path, db_url: str) -> None:
    with Sandbox(seed=21, hires=0) as sb:
        employee, app = _world(sb)
        cli = PollerCli(tmp_path, sb, db_url)
        assert cli.once(crash_at="after:search").killed
        with ledger_at(db_url) as ledger:
            wait_until_due(ledger)
            settle(cli, ledger)
        row = _assert_adopted_once(sb, db_url, employee, app)
        assert row.employee_link == "linked_existing"


def test_a_5xx_on_create_for_an_existing_person_still_links(tmp_path: Path, db_url: str) -> None:
    with Sandbox(seed=22, hires=0) as sb:
        employee, app = _world(sb)
        sb.hibob.faults.set("POST /people", error_rate="always", times=1)
        cli = PollerCli(tmp_path, sb, db_url)
        with ledger_at(db_url) as ledger:
            settle(cli, ledger)
        _assert_adopted_once(sb, db_url, employee, app)
