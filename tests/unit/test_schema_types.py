"""The ledger's datetime column type: aware in, aware UTC out, naive UTC text in SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, create_engine, text
from sqlalchemy.exc import StatementError

from poller.store.schema import UTCDateTime

VALUES = [
    datetime(2026, 12, 4, 18, 0, 0, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=5))),
    datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-7))),
    datetime(1000, 2, 5, tzinfo=UTC),
    None,
]


@pytest.fixture
def engine() -> Iterator[Engine]:
    # Disposed, so no SQLite connection is left for the garbage collector (a ResourceWarning
    # on Python 3.13).
    engine = create_engine("sqlite://")
    yield engine
    engine.dispose()


def test_aware_datetimes_come_back_aware_utc_and_sqlite_keeps_naive_utc_text(
    engine: Engine,
) -> None:
    meta = MetaData()
    t = Table("t", meta, Column("id", Integer, primary_key=True), Column("at", UTCDateTime()))
    meta.create_all(engine)
    with engine.begin() as conn:
        for value in VALUES:
            conn.execute(t.insert().values(at=value))
        stored = [r.at for r in conn.execute(text("SELECT at FROM t ORDER BY id"))]
        back = [r.at for r in conn.execute(t.select().order_by(t.c.id))]
    assert stored[1] == "2026-01-01 22:04:05.000006"
    assert back == [v.astimezone(UTC) if v else None for v in VALUES]
    assert all(v is None or v.tzinfo is UTC for v in back)


def test_a_naive_datetime_is_refused(engine: Engine) -> None:
    meta = MetaData()
    t = Table("t", meta, Column("id", Integer, primary_key=True), Column("at", UTCDateTime()))
    meta.create_all(engine)
    with engine.begin() as conn, pytest.raises(StatementError, match="timezone-aware"):
        conn.execute(t.insert().values(at=datetime(2026, 12, 4, 18, 0)))
