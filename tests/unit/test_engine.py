"""A PostgreSQL connection that died in the pool (a server restart, a failover) is replaced
before anything uses it: the next statement succeeds on a new connection."""

from __future__ import annotations

import time

from sqlalchemy import Engine, create_engine, text

from poller.db_url import normalise_url
from poller.store.engine import make_engine


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_dead_pooled_connection_is_replaced_before_use(postgres_url: str) -> None:
    engine = make_engine(postgres_url, pool_size=1)
    try:
        pid = _backend_pid(engine)
        assert _backend_pid(engine) == pid  # pooled: the same connection again
        admin = create_engine(normalise_url(postgres_url), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:  # a server restart, as the pooled connection sees it
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        finally:
            admin.dispose()
        time.sleep(0.2)
        new_pid = _backend_pid(engine)  # no error: the ping found it dead, the pool reconnected
        assert new_pid != pid
        assert _backend_pid(engine) == new_pid
    finally:
        engine.dispose()
