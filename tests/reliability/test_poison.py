"""Issue 4.4: one application that always fails ends `failed` after worker.max_attempts with its
last error, the rest of the batch completes, every cycle still exits 0, and `poller retry`
brings it back once the cause is gone."""

from __future__ import annotations

from pathlib import Path

from poller.sandbox import Sandbox
from tests.reliability.harness import SEED, PollerCli, ledger_at, settle

ATTEMPTS = 3


def test_a_poison_row_fails_alone_and_retry_brings_it_back(db_url: str, tmp_path: Path) -> None:
    with Sandbox(seed=SEED, hires=0) as sb:
        # Only the poison hire has a CV, so only it reaches the upload endpoint, which always
        # answers 503 (retryable: nothing applied).
        others = [
            sb.pinpoint.add_hire(f"Fine{i}", "Hire", f"fine{i}@example.com", cv=None)
            for i in range(5)
        ]
        poison = sb.pinpoint.add_hire("Pat", "Poison", "pat@example.com", cv="pdf")
        sb.hibob.faults.set("POST /docs/people/{id}/shared", error_rate="always")
        cli = PollerCli(
            tmp_path, sb, db_url, {"worker": {"max_attempts": ATTEMPTS, "retry_base_seconds": 0}}
        )
        with ledger_at(db_url) as ledger:
            runs = settle(cli, ledger)  # each run exits 0: the loop never dies from one row
            assert len(runs) == ATTEMPTS
            assert all(r.summary().get("ok") is True for r in runs)
            row = ledger.get(poison)
            assert row is not None and row.state == "failed"
            assert row.attempts == ATTEMPTS
            assert row.last_error is not None
            assert f"gave up after {ATTEMPTS} attempts" in row.last_error
            assert "HTTP 503" in row.last_error and poison in row.last_error
            assert row.hibob_employee_id is not None  # its progress is kept
            assert [ledger.get(a).state for a in others] == ["done"] * 5  # type: ignore[union-attr]
            assert sb.audit().comments_per_application() == dict.fromkeys(others, 1)

            retried = cli.run("retry", poison)
            assert retried.returncode == 0, retried.describe()
            assert ledger.get(poison).state == "pending"  # type: ignore[union-attr]
            sb.hibob.faults.clear()
            settle(cli, ledger)
            row = ledger.get(poison)
        assert row is not None and row.state == "done" and row.cv_status == "uploaded"
        assert row.last_error is None
        audit = sb.audit()
        assert sorted(audit.employees_created_per_email().values()) == [1] * 6
        assert audit.documents_per_employee() == {row.hibob_employee_id: 1}
        assert audit.comments_per_application() == dict.fromkeys([*others, poison], 1)
