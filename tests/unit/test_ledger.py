"""The ledger on SQLite and PostgreSQL: migrations from empty, claims, fencing, operator actions."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, event, inspect, text

from poller.errors import LeaseLost, StoreError
from poller.models import HireSummary
from poller.store.ledger import Ledger
from poller.store.schema import UTCDateTime
from tests.support.ledger import discover

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def test_migration_from_empty_creates_the_contract_columns(db_url: str) -> None:
    led = Ledger(db_url)
    assert not led.schema_current()
    led.migrate()
    led.migrate()  # idempotent
    assert led.schema_current()
    cols = {c["name"] for c in inspect(led.engine).get_columns("processed_applications")}
    contract = {
        "application_id",
        "state",
        "attempts",
        "next_attempt_at",
        "claimed_by",
        "lease_expires_at",
        "hibob_employee_id",
        "employee_link",
        "cv_document_id",
        "cv_status",
        "pinpoint_comment_id",
        "last_error",
        "created_at",
        "updated_at",
        "completed_at",
    }
    assert contract <= cols
    led.dispose()


def test_head_revision_constant_matches_the_migrations() -> None:
    from pathlib import Path

    from alembic.script import ScriptDirectory

    import migrations
    from poller.store.schema import HEAD_REVISION

    script = ScriptDirectory(str(Path(migrations.__file__).parent))
    assert script.get_current_head() == HEAD_REVISION


def test_discovery_insert_is_idempotent_and_baselines_old_hires(ledger: Ledger) -> None:
    hires = [
        HireSummary("1", NOW - timedelta(days=1)),
        HireSummary("2", NOW - timedelta(days=400)),
    ]
    nothing = {"pending": 0, "baseline": 0, "settling": 0, "returned": 0, "unflagged": 0}
    assert discover(ledger, hires, baseline_before=NOW - timedelta(days=30), now=NOW) == {
        **nothing,
        "pending": 1,
        "baseline": 1,
    }
    assert discover(ledger, hires, baseline_before=None, now=NOW) == nothing
    assert ledger.counts()["baseline"] == 1
    assert ledger.promote_baseline(["2"], now=NOW) == 1
    assert ledger.get("2").state == "pending"  # type: ignore[union-attr]
    assert [e.outcome for e in ledger.events("2")] == ["backfill"]


def test_claim_is_exclusive_and_checkpoints_are_fenced(ledger: Ledger) -> None:
    discover(ledger, [HireSummary("1", NOW)], baseline_before=None, now=NOW)
    rec = ledger.claim_next("a", lease_seconds=60, now=NOW)
    assert rec is not None and rec.attempts == 1 and rec.claimed_by == "a"
    assert ledger.claim_next("b", lease_seconds=60, now=NOW) is None
    ledger.checkpoint("1", "a", step="employee", outcome="created", hibob_employee_id="42")
    with pytest.raises(LeaseLost):
        ledger.checkpoint("1", "b", step="employee", outcome="created", hibob_employee_id="43")
    # The lease expires: another worker takes the row over, and the first is fenced out.
    later = NOW + timedelta(seconds=61)
    taken = ledger.claim_next("b", lease_seconds=60, now=later)
    assert taken is not None and taken.hibob_employee_id == "42" and taken.attempts == 2
    with pytest.raises(LeaseLost):
        ledger.checkpoint("1", "a", step="cv", outcome="uploaded", now=later)


@pytest.mark.parametrize("returning", [True, False], ids=["returning", "no-returning"])
def test_a_claim_returns_the_claimed_row(
    ledger: Ledger, returning: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite before 3.35 has no UPDATE ... RETURNING: the row is read back instead.
    monkeypatch.setattr(ledger.engine.dialect, "update_returning", returning)
    discover(ledger, [HireSummary("1", NOW), HireSummary("2", NOW)], baseline_before=None, now=NOW)
    first = ledger.claim_next("a", lease_seconds=60, now=NOW, exclude=["1"])
    assert first is not None and first.application_id == "2"
    assert (first.state, first.claimed_by, first.attempts) == ("in_progress", "a", 1)
    assert first.lease_expires_at == NOW + timedelta(seconds=60)
    second = ledger.claim_next("b", lease_seconds=60, now=NOW)
    assert second is not None and second.application_id == "1"
    assert ledger.claim_next("c", lease_seconds=60, now=NOW) is None


def test_deferred_lines_share_one_commit(ledger: Ledger) -> None:
    discover(ledger, [HireSummary("1", NOW)], baseline_before=None, now=NOW)
    ledger.claim_next("a", lease_seconds=60, now=NOW)
    ledger.checkpoint(
        "1",
        "a",
        step="employee",
        outcome="create_started",
        attempt=1,
        now=NOW,
        history=[("map", "mapped", None)],
        email="zoe@example.com",
        create_started_at=NOW,
    )
    rec = ledger.get("1")
    assert rec is not None and rec.email == "zoe@example.com" and rec.create_started_at == NOW
    lines = [(e.step, e.outcome, e.attempt, e.worker) for e in ledger.events("1")]
    assert lines[-2:] == [("map", "mapped", 1, "a"), ("employee", "create_started", 1, "a")]


def test_pending_rows_wait_for_next_attempt_at(ledger: Ledger) -> None:
    discover(ledger, [HireSummary("1", NOW)], baseline_before=None, now=NOW)
    rec = ledger.claim_next("a", lease_seconds=60, now=NOW)
    assert rec is not None
    ledger.checkpoint(
        "1",
        "a",
        step="fetch",
        outcome="retry",
        state="pending",
        claimed_by=None,
        next_attempt_at=NOW + timedelta(minutes=5),
    )
    assert ledger.claim_next("a", lease_seconds=60, now=NOW + timedelta(minutes=1)) is None
    assert ledger.claim_next("a", lease_seconds=60, now=NOW + timedelta(minutes=6)) is not None


def test_migrations_build_exactly_the_schema_module(db_url: str) -> None:
    """What Alembic creates from empty is what poller.schema describes: columns and indexes."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from poller.store.schema import metadata

    led = Ledger(db_url)
    led.migrate()
    with led.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    led.dispose()
    assert diff == []


@pytest.mark.parametrize("start", ["0001", "0002", "0003", "0004", "0005"])
def test_an_older_database_upgrades_in_place_keeps_its_rows_and_claims_them(
    db_url: str, start: str
) -> None:
    """A deployment made before a migration upgrades in place on its next start: its rows,
    written by that older release, are kept and claimed."""
    from alembic import command
    from alembic.config import Config

    import migrations

    led = Ledger(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    with led.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, start)
        # What the older release wrote: the columns every revision has.
        # Bound as the ledger binds it: Python 3.12 deprecates sqlite3's default adapter.
        conn.execute(
            text(
                "INSERT INTO processed_applications (application_id, state, attempts, "
                "hibob_employee_id, created_at, updated_at) "
                "VALUES ('old', 'pending', 0, NULL, :t, :t), ('kept', 'done', 1, '42', :t, :t)"
            ).bindparams(bindparam("t", type_=UTCDateTime())),
            {"t": NOW},
        )
    assert not led.schema_current()
    led.migrate_if_needed()
    assert led.schema_current()
    indexes = {ix["name"] for ix in inspect(led.engine).get_indexes("processed_applications")}
    assert {"ix_processed_applications_due", "ix_processed_applications_unhired"} <= indexes
    assert "ix_processed_applications_state_next" not in indexes
    kept = led.get("kept")
    assert kept is not None and (kept.state, kept.hibob_employee_id) == ("done", "42")
    assert (kept.unhired_at, kept.hired_at) == (None, None)
    rec = led.claim_next("a", lease_seconds=60, now=NOW)
    assert rec is not None and rec.application_id == "old"
    # The new states are allowed by the upgraded CHECK constraint.
    assert led.flag_unhired("kept", "Rejected", now=NOW)
    discover(led, [HireSummary("new", NOW, hired_at=NOW)], now=NOW, settle=timedelta(minutes=10))
    assert led.get("new").state == "settling"  # type: ignore[union-attr]
    # After the hire: the kept row is watched from its first sighting (no `watched` yet).
    assert kept.watched is None and led.changes_of("kept") == []
    assert led.record_sighting("kept", old=None, new="{}", changes=[], now=NOW) == []
    assert led.open_changes() == (0, None)
    led.dispose()


def test_claims_take_expired_leases_then_due_rows_oldest_first(ledger: Ledger) -> None:
    hires = [HireSummary(str(i), NOW) for i in range(4)]
    for i, hire in enumerate(hires):  # created one minute apart, "0" oldest
        discover(ledger, [hire], baseline_before=None, now=NOW + timedelta(minutes=i))
    first = ledger.claim_next("a", lease_seconds=60, now=NOW)
    assert first is not None and first.application_id == "0"
    ledger.checkpoint(  # "0" comes back due in 5 minutes
        "0",
        "a",
        step="fetch",
        outcome="retry",
        state="pending",
        claimed_by=None,
        next_attempt_at=NOW + timedelta(minutes=5),
    )
    lapsed = ledger.claim_next("crashed", lease_seconds=60, now=NOW)
    assert lapsed is not None and lapsed.application_id == "1"
    later = NOW + timedelta(minutes=10)
    order = [
        r.application_id
        for r in iter(lambda: ledger.claim_next("b", lease_seconds=60, now=later), None)
    ]
    # The lapsed lease first, then every due row; fresh ones oldest first. Whether the due
    # retry ("0") comes before or after them is the database's NULL order (SQLite: after).
    assert order[0] == "1" and sorted(order) == ["0", "1", "2", "3"]
    fresh = [app for app in order if app in ("2", "3")]
    assert fresh == ["2", "3"]


def test_a_claim_reads_the_due_index_in_order_instead_of_sorting(sqlite_url: str) -> None:
    """The claim's cost must not grow with the backlog: SQLite walks the due index to the
    LIMIT. A temporary B-tree here would mean reading and sorting every due row."""
    from poller.store.statements import candidates

    led = Ledger(sqlite_url)
    led.migrate()
    stmt = candidates(["x"]).params(k_now=NOW)
    sql = str(stmt.compile(led.engine, compile_kwargs={"literal_binds": True}))
    with led.engine.connect() as conn:
        plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
    led.dispose()
    assert plan == [
        "SEARCH processed_applications USING INDEX ix_processed_applications_due (state=?)"
    ]


def test_concurrent_claims_never_hand_out_a_row_twice(ledger: Ledger) -> None:
    ids = [str(i) for i in range(40)]
    discover(ledger, [HireSummary(i, NOW) for i in ids], baseline_before=None, now=NOW)
    got: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (rec := ledger.claim_next(name, lease_seconds=60, now=NOW)) is not None:
            with lock:
                got.append(rec.application_id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == sorted(ids)


def test_retry_resolve_purge_and_release(ledger: Ledger) -> None:
    discover(ledger, [HireSummary("1", NOW)], baseline_before=None, now=NOW)
    ledger.claim_next("a", lease_seconds=60, now=NOW)
    ledger.checkpoint(
        "1",
        "a",
        step="cv",
        outcome="failed",
        state="failed",
        cv_status="skipped",
        hibob_employee_id="42",
        candidate_name="Zoë Example",
        email="zoe@example.com",
        last_error="CV too large",
        claimed_by=None,
    )
    assert ledger.retry(["1"], now=NOW, note="poller retry") == ["1"]
    rec = ledger.get("1")
    assert rec is not None
    assert (rec.state, rec.attempts, rec.cv_status, rec.hibob_employee_id) == (
        "pending",
        0,
        None,
        "42",
    )
    assert ledger.resolve("1", now=NOW, note="attached by hand")
    assert ledger.get("1").state == "done"  # type: ignore[union-attr]
    assert ledger.purge("1", now=NOW)
    rec = ledger.get("1")
    assert rec is not None and rec.email is None and rec.candidate_name is None
    assert [e.outcome for e in ledger.events("1")] == ["purged"]

    discover(ledger, [HireSummary("2", NOW)], baseline_before=None, now=NOW)
    ledger.claim_next("a", lease_seconds=60, now=NOW)
    ledger.release("2", "a", now=NOW, note="shutdown")
    rec = ledger.get("2")
    assert rec is not None and (rec.state, rec.attempts, rec.claimed_by) == ("pending", 0, None)


def test_state_values_round_trip(ledger: Ledger) -> None:
    ledger.set_state({"watermark": NOW.isoformat()}, now=NOW)
    ledger.set_state({"watermark": "later"}, now=NOW)
    assert ledger.get_state() == {"watermark": "later"}


def test_unreachable_store_is_a_store_error_without_the_password() -> None:
    led = Ledger("postgresql://poller:hunter2secret@127.0.0.1:1/nowhere")
    with pytest.raises(StoreError) as err:
        led.ping()
    assert "hunter2secret" not in str(err.value)
    assert err.value.__cause__ is None
    led.dispose()


def test_a_sqlite_transaction_takes_the_write_lock_when_it_begins(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE, not SQLite's deferred BEGIN: two processes that both read and then
    write would otherwise fail with "locked" when upgrading their read locks."""
    path = tmp_path / "lock.db"
    led = Ledger(f"sqlite:///{path}")
    led.migrate()
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        with led.engine.begin() as conn:
            conn.exec_driver_sql("SELECT 1")  # a read only, and yet:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again after the commit
        other.rollback()
    finally:
        other.close()
        led.dispose()


def test_a_locked_sqlite_file_is_a_store_error_not_a_traceback(tmp_path: Path) -> None:
    """The BEGIN IMMEDIATE of a ledger transaction waits, then fails as a StoreError."""
    path = tmp_path / "locked.db"
    led = Ledger(f"sqlite:///{path}")
    led.migrate()

    @event.listens_for(led.engine, "connect")
    def _short_wait(dbapi_conn: Any, _record: Any) -> None:  # runs after the ledger's pragmas
        dbapi_conn.execute("PRAGMA busy_timeout=50")

    led.engine.dispose()  # new connections, with the short wait
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="during record_discovered: database is locked"):
            discover(led, [HireSummary("1", NOW)], baseline_before=None, now=NOW)
    finally:
        blocker.rollback()
        blocker.close()
    counts = discover(led, [HireSummary("1", NOW)], baseline_before=None, now=NOW)
    assert counts["pending"] == 1 and sum(counts.values()) == 1
    led.dispose()
