"""The ledger's datetime column type: aware in, aware UTC out, SQLite's text unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Column, Dialect, Integer, MetaData, Table, create_engine, text
from sqlalchemy.exc import StatementError
from sqlalchemy.types import TypeDecorator

from poller.store.schema import UTCDateTime


class _Generic(UTCDateTime):
    """The same type through TypeDecorator's own processor chain."""

    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Any:
        return TypeDecorator.bind_processor(self, dialect)


VALUES = [
    datetime(2026, 12, 4, 18, 0, 0, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=5))),
    datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-7))),
    datetime(1000, 2, 5, tzinfo=UTC),
    None,
]


def test_sqlite_stores_the_same_text_as_the_generic_chain() -> None:
    engine = create_engine("sqlite://")
    meta = MetaData()
    t = Table(
        "t",
        meta,
        Column("id", Integer, primary_key=True),
        Column("fast", UTCDateTime()),
        Column("generic", _Generic()),
    )
    meta.create_all(engine)
    with engine.begin() as conn:
        for value in VALUES:
            conn.execute(t.insert().values(fast=value, generic=value))
        stored = list(conn.execute(text("SELECT fast, generic FROM t ORDER BY id")))
        back = [r.fast for r in conn.execute(t.select().order_by(t.c.id))]
    assert [a for a, _ in stored] == [b for _, b in stored]
    assert stored[1][0] == "2026-01-01 22:04:05.000006"
    assert back == [v.astimezone(UTC) if v else None for v in VALUES]
    assert all(v is None or v.tzinfo is UTC for v in back)


def test_a_naive_datetime_is_refused() -> None:
    engine = create_engine("sqlite://")
    meta = MetaData()
    t = Table("t", meta, Column("id", Integer, primary_key=True), Column("at", UTCDateTime()))
    meta.create_all(engine)
    with engine.begin() as conn, pytest.raises(StatementError, match="timezone-aware"):
        conn.execute(t.insert().values(at=datetime(2026, 12, 4, 18, 0)))
