"""Shared fixtures: a clean environment for every test, and ledger URLs for both databases.

PostgreSQL tests run when POLLER_TEST_POSTGRES_URL is set (each test gets a database of its
own, dropped afterwards). Without it they skip with that reason, unless
POLLER_REQUIRE_POSTGRES=1 (CI sets it), where a skip would hide a gap, so they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

PG_ENV = "POLLER_TEST_POSTGRES_URL"
_PREFIXES = ("POLLER_", "PINPOINT_", "HIBOB_")
_KEEP = {PG_ENV, "POLLER_REQUIRE_POSTGRES", "POLLER_TEST_SEED", "POLLER_REQUIRE_BROWSER"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees (or leaks) the developer's POLLER_*/PINPOINT_*/HIBOB_* variables."""
    for key in list(os.environ):
        if key.startswith(_PREFIXES) and key not in _KEEP:
            monkeypatch.delenv(key)


def postgres_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if url:
        return url
    if os.environ.get("POLLER_REQUIRE_POSTGRES") == "1":
        pytest.fail(
            f"{PG_ENV} is not set but POLLER_REQUIRE_POSTGRES=1: PostgreSQL tests can't skip"
        )
    return None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1/test)")
    from sqlalchemy import create_engine, text

    from poller.db_url import normalise_url

    name = f"poller_t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(normalise_url(admin), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if os.environ.get("POLLER_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"PostgreSQL at {PG_ENV} is unreachable: {type(exc).__name__}")
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: os.PathLike[str]) -> str:
    return f"sqlite:///{tmp_path}/poller.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))
