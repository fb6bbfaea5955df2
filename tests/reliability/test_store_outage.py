"""Issue 4.5: the store goes away. At cycle start, `run --once` exits 1 with a clear message and
nothing reaches the upstreams. Mid-cycle, the run stops, and no write reached HiBob or Pinpoint
without a committed intent before it (the checkpoint that precedes each outside write)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from poller.sandbox import Sandbox
from tests.conftest import postgres_admin_url
from tests.reliability.harness import SEED, PollerCli, ledger_at, settle, tally

HIRES = 12


@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres@127.0.0.1:1/poller", "sqlite:////nonexistent-poller-dir/poller.db"],
    ids=["postgres-closed-port", "sqlite-missing-dir"],
)
@pytest.mark.parametrize("auto_migrate", [True, False])
def test_unreachable_store_at_start_exits_1_before_any_request(
    tmp_path: Path, url: str, auto_migrate: bool
) -> None:
    with Sandbox(seed=SEED, hires=3) as sb:
        cli = PollerCli(tmp_path, sb, url, {"database": {"auto_migrate": auto_migrate}})
        run = cli.once(timeout=30)
        assert run.returncode == 1, run.describe()
        assert run.stderr.startswith("poller: database error"), run.stderr
        assert "Traceback" not in run.stderr
        assert sb.audit().requests() == 0


@contextmanager
def _outage(db_url: str) -> Iterator[None]:
    """Take the PostgreSQL database away from every client, then bring it back as it was."""
    from sqlalchemy import create_engine, text

    from poller.db_url import normalise_url

    admin = postgres_admin_url()
    assert admin is not None
    name = db_url.rsplit("/", 1)[1]
    engine = create_engine(normalise_url(admin), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        yield
        with engine.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    finally:
        engine.dispose()


@pytest.mark.slow
def test_store_lost_mid_cycle_no_write_without_a_committed_intent(
    postgres_url: str, tmp_path: Path
) -> None:
    # PostgreSQL only: a database server can go away under a running process; an SQLite file
    # held open by the ledger's pooled connections can't be taken away like that.
    db_url = postgres_url
    with Sandbox(seed=SEED, hires=0) as sb:
        hires = sb.pinpoint.seed_hires(HIRES)
        for endpoint in ("POST /people", "POST /docs/people/{id}/shared"):
            sb.faults("hibob", endpoint, latency_ms=150)
        cli = PollerCli(tmp_path, sb, db_url, {"worker": {"concurrency": 2, "lease_seconds": 2}})
        proc = cli.start("run", "--once")
        deadline = time.monotonic() + 30
        while len(sb.audit().employees_created_per_email()) < 3:
            assert proc.poll() is None and time.monotonic() < deadline, "the batch ended early"
            time.sleep(0.02)  # until a few employees exist: the cut lands mid-batch
        with _outage(db_url):
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 1, err[-2000:]
            audit = sb.audit()
        assert '"ok": false' in out and "database error" in out
        with ledger_at(db_url) as ledger:
            rows = {r.email: r for r in ledger.rows(limit=0) if r.email}
            by_employee = {r.hibob_employee_id: r for r in rows.values() if r.hibob_employee_id}
            by_app = {r.application_id: r for r in rows.values()}
            created = audit.employees_created_per_email()
            assert created and len(created) < HIRES, "the cut did not land mid-batch"
            for email in created:  # every create had its intent committed first
                assert rows[email].create_started_at is not None, email
            for app in audit.comments_per_application():
                assert by_app[app].comment_started_at is not None, app
            for employee_id in audit.documents_per_employee():  # the employee was saved too
                assert by_employee[employee_id].cv_started_at is not None, employee_id

            settle(cli, ledger)  # the store is back: everything finishes, once
            t = tally(sb, ledger, hires)
        assert t.lost == [] and t.missing == []
        assert (t.duplicate_employees, t.duplicate_documents, t.duplicate_comment_total) == (
            0,
            0,
            0,
        )
