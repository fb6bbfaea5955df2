"""The status page's queries, on SQLite and PostgreSQL, and the read-only ledger it uses."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from poller.errors import StoreError
from poller.store.ledger import Ledger
from poller.store.schema import processed_applications as apps_t
from poller.store.views import hires_per_day, search

NOW = datetime(2026, 3, 31, 15, 0, tzinfo=UTC)


def _row(app_id: str, state: str, minutes_ago: int, **values: Any) -> dict[str, Any]:
    at = NOW - timedelta(minutes=minutes_ago)
    return {
        "application_id": app_id,
        "state": state,
        "attempts": 1,
        "created_at": at,
        "updated_at": at,
        "candidate_name": None,
        "hibob_employee_id": None,
        "completed_at": None,
        **values,
    }


ROWS = [
    _row(
        "1001",
        "done",
        50,
        candidate_name="Ada Lovelace",
        hibob_employee_id="E-77",
        completed_at=NOW - timedelta(days=2),
    ),
    _row(
        "1002",
        "done",
        40,
        candidate_name="Grace Hopper",
        hibob_employee_id="E-78",
        completed_at=NOW - timedelta(days=2, hours=3),
    ),
    _row("1003", "failed", 30, candidate_name="100% Real_Name"),
    _row("1004", "pending", 20, candidate_name="<script>alert(1)</script> Tester"),
    _row(
        "2001",
        "done",
        10,
        candidate_name="Alan Turing",
        hibob_employee_id="E-1001",
        completed_at=NOW - timedelta(hours=1),
    ),
    _row("2002", "done", 5, candidate_name="Old Hire", completed_at=NOW - timedelta(days=45)),
    _row("2003", "baseline", 1, candidate_name=None),
]


@pytest.fixture
def ledger(ledger: Ledger) -> Ledger:
    """The unit tests' migrated ledger (conftest.py), holding ROWS."""
    with ledger.engine.begin() as conn:
        conn.execute(insert(apps_t), ROWS)
    return ledger


def ids(page: Any) -> list[str]:
    return [r.application_id for r in page.rows]


def test_the_table_is_newest_first_and_filtered_by_state(ledger: Ledger) -> None:
    page = search(ledger)
    assert ids(page) == ["2003", "2002", "2001", "1004", "1003", "1002", "1001"]
    assert (page.total, page.pages) == (7, 1)
    assert ids(search(ledger, state="done")) == ["2002", "2001", "1002", "1001"]
    assert search(ledger, state="withdrawn").total == 0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("1001", ["2001", "1001"]),  # the id of one, the HiBob id (E-1001) of the other
        ("grace", ["1002"]),  # the name, ignoring case
        ("e-7", ["1002", "1001"]),  # HiBob ids
        ("100%", ["1003"]),  # % and _ are taken literally, not as LIKE wildcards
        ("a_l", []),  # as a wildcard it would match "Ada Lovelace"
        ("real_name", ["1003"]),
        ("<script>", ["1004"]),
        ("   ", ["2003", "2002", "2001", "1004", "1003", "1002", "1001"]),
        ("nobody", []),
    ],
)
def test_search_matches_id_name_or_hibob_id(
    ledger: Ledger, query: str, expected: list[str]
) -> None:
    assert ids(search(ledger, query=query)) == expected


def test_state_and_search_combine_and_pages_count_the_matches(ledger: Ledger) -> None:
    assert ids(search(ledger, state="done", query="a")) == ["2001", "1002", "1001"]
    first = search(ledger, size=3)
    assert (ids(first), first.total, first.pages) == (["2003", "2002", "2001"], 7, 3)
    assert ids(search(ledger, size=3, page=3)) == ["1001"]
    beyond = search(ledger, size=3, page=9)
    assert (beyond.rows, beyond.total) == ([], 7)
    with pytest.raises(ValueError, match="start at 1"):
        search(ledger, page=0)


def test_hires_per_day_counts_done_rows_over_the_last_30_days(ledger: Ledger) -> None:
    days = hires_per_day(ledger, now=NOW)
    assert len(days) == 30
    assert days[0][0] == NOW.date() - timedelta(days=29) and days[-1][0] == NOW.date()
    by_day = dict(days)
    assert by_day[NOW.date()] == 1
    assert by_day[NOW.date() - timedelta(days=2)] == 2
    assert sum(by_day.values()) == 3  # the 45-day-old hire and the non-done rows are not counted


def test_a_read_only_ledger_refuses_writes_in_the_database(db_url: str, ledger: Ledger) -> None:
    reader = Ledger(db_url, read_only=True)
    try:
        assert reader.schema_current() and search(reader).total == 7
        with pytest.raises(StoreError):
            reader.set_state({"watermark": "x"}, now=NOW)
        assert "watermark" not in ledger.get_state()
    finally:
        reader.dispose()


def test_a_sqlite_reader_neither_waits_for_the_poller_nor_blocks_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/p.db"
    writer = Ledger(url)
    writer.migrate()
    reader = Ledger(url, read_only=True)
    holder = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # the poller in the middle of a write
        started = time.monotonic()
        assert search(reader).total == 0
        assert time.monotonic() - started < 2  # a BEGIN IMMEDIATE would wait 30 s here
        holder.execute("ROLLBACK")
        with reader.engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM processed_applications").all()
            writer.set_state({"k": "v"}, now=NOW)  # while the reader's transaction is open
    finally:
        holder.close()
        reader.dispose()
        writer.dispose()
