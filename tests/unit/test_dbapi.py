"""The claim and checkpoint on the DBAPI connection (poller.store.dbapi): the same rows in and
out as through SQLAlchemy, on both databases, and driver failures handled as SQLAlchemy would."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, select, text, update

from poller.db_url import normalise_url
from poller.errors import StoreError
from poller.models import HireSummary, State
from poller.store.ledger import Ledger
from poller.store.schema import processed_applications as apps_t
from tests.support.ledger import discover

NOW = datetime(2026, 1, 10, 12, 0, 0, 123456, tzinfo=UTC)
ELSEWHERE = timezone(timedelta(hours=-5))
VALUES = {
    "candidate_name": "Zoë O'Brien",
    "email": "zoe@example.com",
    "start_date": date(2026, 2, 1),
    "start_date_source": "offer",
    "create_started_at": datetime(2026, 1, 10, 7, 0, 0, 5, tzinfo=ELSEWHERE),
    "pinpoint_updated_at": datetime(2026, 1, 9, 23, 59, 59, 999999, tzinfo=UTC),
    "hibob_employee_id": "3332883884017713238",
    "mapping_notes": "work.title left out; 100% sure",
}


def test_a_claimed_row_reads_as_sqlalchemy_reads_it(ledger: Ledger) -> None:
    discover(ledger, [HireSummary("1", NOW)], baseline_before=None, now=NOW)
    assert ledger.claim_next("a", lease_seconds=60, now=NOW) is not None
    ledger.checkpoint(
        "1",
        "a",
        step="employee",
        outcome="retry",
        now=NOW,
        state=State.PENDING,
        claimed_by=None,
        lease_expires_at=None,
        next_attempt_at=NOW - timedelta(minutes=1),
        **VALUES,
    )
    claimed = ledger.claim_next("b", lease_seconds=30, now=NOW)
    assert claimed is not None
    assert claimed == ledger.get("1")  # the SQLAlchemy read of the same row
    assert claimed.create_started_at == VALUES["create_started_at"]
    assert claimed.create_started_at.tzinfo == UTC
    assert claimed.start_date == date(2026, 2, 1) and claimed.attempts == 2


def test_a_checkpoint_stores_what_sqlalchemy_stores(ledger: Ledger) -> None:
    """Byte for byte: SQLite keeps datetimes as text, and the claim compares that text."""
    discover(ledger, [HireSummary("1", NOW), HireSummary("2", NOW)], baseline_before=None, now=NOW)
    assert ledger.claim_next("a", lease_seconds=60, now=NOW, exclude=["2"]) is not None
    ledger.checkpoint("1", "a", step="map", outcome="mapped", now=NOW, **VALUES)
    lease = NOW + timedelta(seconds=60)
    with ledger.engine.begin() as conn:  # the same values through SQLAlchemy
        conn.execute(
            update(apps_t)
            .where(apps_t.c.application_id == "2")
            .values(
                state=State.IN_PROGRESS,
                claimed_by="a",
                attempts=1,
                lease_expires_at=lease,
                updated_at=NOW,
                **VALUES,
            )
        )
    columns = [c.name for c in apps_t.columns if c.name != "application_id"]
    # The schema's own column names, no outside text.
    sql = f"SELECT {', '.join(columns)} FROM processed_applications WHERE application_id = "  # noqa: S608
    with ledger.engine.connect() as conn:
        ours = conn.exec_driver_sql(sql + "'1'").one()
        theirs = conn.exec_driver_sql(sql + "'2'").one()
    assert dict(zip(columns, ours, strict=True)) == dict(zip(columns, theirs, strict=True))


def test_a_refused_statement_rolls_back_and_is_a_store_error(ledger: Ledger) -> None:
    discover(ledger, [HireSummary("1", NOW)], baseline_before=None, now=NOW)
    ledger.claim_next("a", lease_seconds=60, now=NOW)
    before = (ledger.get("1"), ledger.events("1"))
    with pytest.raises(StoreError, match="database error during checkpoint") as caught:
        # The history line would be written, then the CHECK on state refuses the row.
        ledger.checkpoint("1", "a", step="map", outcome="mapped", now=NOW, state="no-such")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert (ledger.get("1"), ledger.events("1")) == before  # nothing of it was kept
    ledger.checkpoint("1", "a", step="map", outcome="mapped", now=NOW, email="a@example.com")
    rec = ledger.get("1")
    assert rec is not None and rec.email == "a@example.com"


def test_skipped_ids_of_any_count_are_left_out(ledger: Ledger) -> None:
    ids = [str(i) for i in range(12)]
    discover(ledger, [HireSummary(i, NOW) for i in ids], baseline_before=None, now=NOW)
    for skipped in (ids[:0], ids[:1], ids[:3], ids[:11], ids[:3] + ids[:3]):
        rec = ledger.claim_next("a", lease_seconds=60, now=NOW, exclude=skipped)
        assert rec is not None and rec.application_id not in skipped
        ledger.release(rec.application_id, "a", now=NOW, note="test")
    assert ledger.claim_next("a", lease_seconds=60, now=NOW, exclude=ids) is None


@pytest.mark.postgres
def test_a_connection_killed_between_checkpoints_fails_one_and_is_replaced(
    postgres_url: str,
) -> None:
    """A server restart or failover mid-burst: the checkpoint that meets the dead connection
    fails as a StoreError (its hire resumes from the last checkpoint), the connection is
    thrown away, and the next checkpoint gets a new one."""
    led = Ledger(postgres_url, pool_size=1)
    led.migrate()
    try:
        discover(led, [HireSummary("1", NOW)], baseline_before=None, now=NOW)
        led.claim_next("a", lease_seconds=60, now=NOW)
        with led.engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        admin = create_engine(normalise_url(postgres_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()
        with pytest.raises(StoreError, match="database error during checkpoint"):
            led.checkpoint("1", "a", step="map", outcome="mapped", now=NOW, email="a@b.example")
        led.checkpoint("1", "a", step="map", outcome="mapped", now=NOW, email="c@d.example")
        with led.engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
            email = conn.execute(select(apps_t.c.email)).scalar_one()
        assert email == "c@d.example"
        assert [e.outcome for e in led.events("1")].count("mapped") == 1
    finally:
        led.dispose()


@pytest.mark.parametrize(
    "url", ["postgresql://postgres@127.0.0.1:9/none", "sqlite:////nonexistent-dir/x/ledger.db"]
)
def test_a_database_that_cannot_be_reached_is_a_store_error(url: str) -> None:
    """The pool passes on the driver's own connect error: it must not escape as one."""
    led = Ledger(url)
    try:
        with pytest.raises(StoreError, match="database error during checkpoint"):
            led.checkpoint("1", "a", step="map", outcome="mapped", now=NOW)
        with pytest.raises(StoreError, match="database error during claim_next"):
            led.claim_next("a", lease_seconds=60, now=NOW)
    finally:
        led.dispose()
