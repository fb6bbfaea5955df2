"""The ledger's SQLAlchemy engine: pooled connections, and per database what they need.

SQLite: WAL, BEGIN IMMEDIATE, a busy timeout. PostgreSQL: connections recycled after 30
minutes, and checked with a ping when they have sat idle in the pool (see ``_ping_if_idle``).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import NullPool

from poller.db_url import normalise_url

# A pooled PostgreSQL connection idle for longer than this is pinged before use.
PING_AFTER_IDLE_S = 5.0


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    ping_after_idle_s: float = PING_AFTER_IDLE_S,
    read_only: bool = False,
) -> Engine:
    """``read_only``: the database refuses writes on these connections (the status page's).

    SQLite: ``PRAGMA query_only`` and a plain (deferred) BEGIN, so that a reader takes no
    write lock and, under WAL, never waits for the poller nor makes it wait. PostgreSQL:
    ``default_transaction_read_only`` for the session.
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        # A pooled connection per worker: reconnecting per transaction re-ran the pragmas and
        # flushed the WAL on every close (measured in bench/README.md).
        # An in-memory database can't be shared by a pool: each connection would be empty.
        memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            poolclass=NullPool if memory else None,
            **({} if memory else {"pool_size": pool_size, "max_overflow": pool_size}),
            connect_args={"timeout": 30},
        )
        _sqlite_pragmas(engine, read_only=read_only)
        return engine
    read_only_session = {"options": "-c default_transaction_read_only=on"}
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        **({"connect_args": read_only_session} if read_only else {}),
    )
    _ping_if_idle(engine, ping_after_idle_s)
    return engine


def _ping_if_idle(engine: Engine, after_s: float) -> None:
    """``pool_pre_ping``, for connections that sat idle in the pool longer than ``after_s``.

    pool_pre_ping pings on every checkout: five extra round trips per hire, in a burst where
    each connection was used milliseconds before (its cost: bench/README.md). A server
    restart or failover shows in the idle connections kept between cycles; these are still
    checked, and replaced, before use. One that dies in the
    middle of a burst fails its statement as it would without any ping: the hire is resumed
    from its last checkpoint, and SQLAlchemy replaces the pool's connections after the first
    disconnect it sees.
    """

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["poller_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("poller_idle_since")
        if since is None or time.monotonic() - since <= after_s:
            return  # new, or used moments ago
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # the driver's own error type: anything means "gone"
            raise DisconnectionError("idle connection failed its ping") from exc
        if not alive:
            raise DisconnectionError("idle connection failed its ping")


def _sqlite_pragmas(engine: Engine, *, read_only: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Drive transactions ourselves so that BEGIN IMMEDIATE takes the write lock up front:
        # two processes upgrading read locks at once would otherwise fail with "locked".
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        _wal_mode(cur)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        if read_only:
            cur.execute("PRAGMA query_only=ON")
        cur.close()

    # BEGIN IMMEDIATE through the dialect's own begin hook, not a "begin" event: any
    # connection event listener sends every statement down SQLAlchemy's event-dispatch path
    # (its cost: bench/README.md, measured with python -m bench.ledger_cost).
    begin = _begin_deferred if read_only else _begin_immediate
    engine.dialect.do_begin = begin  # type: ignore[method-assign, assignment]


def _begin_immediate(dbapi_conn: Any) -> None:
    dbapi_conn.execute("BEGIN IMMEDIATE")


def _begin_deferred(dbapi_conn: Any) -> None:
    dbapi_conn.execute("BEGIN")


def _wal_mode(cur: Any) -> None:
    """Switch a new database file to WAL (persistent, so later opens find it done).

    Switching needs the file to itself and SQLite answers "locked" at once, without waiting,
    when several processes open a brand-new file together: retry briefly.
    """
    for attempt in range(50):
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if attempt == 49:
                raise
            time.sleep(0.1)
