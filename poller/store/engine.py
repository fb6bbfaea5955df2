"""The ledger's SQLAlchemy engine: pooled connections, and per database what they need.

SQLite: WAL, BEGIN IMMEDIATE, a busy timeout. PostgreSQL: connections recycled after 30
minutes, and pinged on checkout (``pool_pre_ping``), so a server restart or failover between
cycles costs a reconnect, not a failed statement.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import NullPool

from poller.db_url import normalise_url


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
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
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        pool_pre_ping=True,
        **({"connect_args": read_only_session} if read_only else {}),
    )


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

    # SQLAlchemy's recipe for pysqlite: the driver's own transaction handling is off (above),
    # and each transaction begins here, taking the write lock up front unless read-only.
    begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)


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
