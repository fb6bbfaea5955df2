"""PostgreSQL connections are pinged only after sitting idle, and a dead idle one is replaced
before anything uses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from poller.db_url import normalise_url
from poller.store.engine import make_engine


@pytest.fixture
def pg(postgres_url: str) -> Iterator[tuple[Engine, list[int]]]:
    engine = make_engine(postgres_url, pool_size=2, ping_after_idle_s=0.3)
    pings: list[int] = []
    real_ping = engine.dialect.do_ping

    def counted(dbapi_conn: object) -> bool:
        pings.append(1)
        return bool(real_ping(dbapi_conn))

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    yield engine, pings
    engine.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_used_moments_ago_is_not_pinged(pg: tuple[Engine, list[int]]) -> None:
    engine, pings = pg
    pid = _backend_pid(engine)
    for _ in range(20):
        assert _backend_pid(engine) == pid  # the same pooled connection, no ping
    assert pings == []


def test_a_dead_idle_connection_is_replaced_before_use(
    pg: tuple[Engine, list[int]], postgres_url: str
) -> None:
    import time

    engine, pings = pg
    pid = _backend_pid(engine)
    admin = create_engine(normalise_url(postgres_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:  # a server restart, as the pooled connection sees it
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()
    time.sleep(0.5)
    new_pid = _backend_pid(engine)  # no error: the ping found it dead, the pool reconnected
    assert new_pid != pid
    assert pings == [1]
    assert _backend_pid(engine) == new_pid and pings == [1]  # in use again: no more pings
