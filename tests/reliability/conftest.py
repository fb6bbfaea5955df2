"""A factory of fresh ledger databases, on SQLite and (when configured) on PostgreSQL.

Suites that run many independent scenarios at once need one database each; `db_url` from
tests/conftest.py gives only one per test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import PG_ENV, postgres_admin_url

DbFactory = Callable[[], str]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DbFactory]:
    if request.param == "sqlite":
        counter = iter(range(10_000))

        def sqlite() -> str:
            folder = tmp_path / f"db{next(counter)}"
            folder.mkdir()
            return f"sqlite:///{folder}/poller.db"

        yield sqlite
        return

    admin = postgres_admin_url()
    if admin is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV}")
    from sqlalchemy import create_engine, text

    from poller.db_url import normalise_url

    engine = create_engine(normalise_url(admin), isolation_level="AUTOCOMMIT")
    base = admin.rsplit("/", 1)[0]
    names: list[str] = []

    def postgres() -> str:
        name = f"poller_r_{uuid.uuid4().hex[:12]}"
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        names.append(name)
        return f"{base}/{name}"

    try:
        yield postgres
    finally:
        with engine.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
