"""The ledger's SQL: the hot path's statements (built once), the history-line insert, the
dialect's INSERT … ON CONFLICT, and the translation of database errors into StoreError.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from poller.errors import StoreError
from poller.models import State
from poller.store.schema import application_events as events_t
from poller.store.schema import notifications as notices_t
from poller.store.schema import processed_applications as apps_t

P = ParamSpec("P")
T = TypeVar("T")


def mask_url(text: str) -> str:
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)


def store_errors(fn: Callable[P, T]) -> Callable[P, T]:
    """Translate SQLAlchemy failures into StoreError at this boundary (no password inside).

    sqlite3.Error too: a new connection's pragmas go to the driver directly.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except (SQLAlchemyError, sqlite3.Error) as exc:
            detail = mask_url(str(getattr(exc, "orig", None) or exc).splitlines()[0])
            raise StoreError(f"database error during {fn.__name__}: {detail}") from None

    return wrapper


class StoreBase:
    """An engine and its short transactions: what the ledger's parts share."""

    engine: Engine

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn


# Expired leases first, then pending rows by when they are due and how old they are (rows
# never rescheduled, with no next_attempt_at, sort where the database puts NULLs). The ORDER
# BY is the due index's own order, and "state IN (...)" (SQLite reads the two equalities as
# one) lets the database walk that index and stop at the LIMIT, not sort every due row.
DUE = and_(
    or_(
        apps_t.c.state == State.IN_PROGRESS,
        apps_t.c.state == State.PENDING,
        apps_t.c.state == State.SETTLING,
    ),
    or_(
        and_(
            apps_t.c.state == State.PENDING,
            or_(
                apps_t.c.next_attempt_at.is_(None),
                apps_t.c.next_attempt_at <= bindparam("k_now"),
            ),
        ),
        # A settling hire is due once its window has passed (next_attempt_at is always set).
        and_(apps_t.c.state == State.SETTLING, apps_t.c.next_attempt_at <= bindparam("k_now")),
        and_(apps_t.c.state == State.IN_PROGRESS, apps_t.c.lease_expires_at < bindparam("k_now")),
    ),
)


def candidates(skip: Sequence[str]) -> Select[str]:
    """Up to 8 due rows, leaving out ``skip`` (rows this cycle already rescheduled)."""
    stmt = select(apps_t.c.application_id).where(DUE)
    if skip:
        stmt = stmt.where(apps_t.c.application_id.not_in(skip))
    return stmt.order_by(apps_t.c.state, apps_t.c.next_attempt_at, apps_t.c.created_at).limit(8)


CLAIM = (
    update(apps_t)
    .where(apps_t.c.application_id == bindparam("k_app"), DUE)
    .values(
        state=State.IN_PROGRESS,
        claimed_by=bindparam("k_worker"),
        lease_expires_at=bindparam("k_lease"),
        attempts=apps_t.c.attempts + 1,
        updated_at=bindparam("k_now"),
    )
)
CLAIM_RETURNING = CLAIM.returning(*apps_t.c)
ROW = select(apps_t).where(apps_t.c.application_id == bindparam("k_app"))
ATTEMPTS = select(apps_t.c.attempts).where(apps_t.c.application_id == bindparam("k_app"))
# Its SET clause is whatever columns the parameters name.
FENCED_UPDATE = update(apps_t).where(
    apps_t.c.application_id == bindparam("k_app"),
    apps_t.c.claimed_by == bindparam("k_worker"),
    apps_t.c.state == State.IN_PROGRESS,
)
INSERT_EVENT = insert(events_t)
# What discovery needs to know of the rows a listing names.
KNOWN = select(
    apps_t.c.application_id, apps_t.c.state, apps_t.c.unhired_at, apps_t.c.unhired_acked_at
).where(apps_t.c.application_id.in_(bindparam("k_ids", expanding=True)))
UNHIRE_CANDIDATES = select(apps_t.c.application_id).where(
    apps_t.c.hibob_employee_id.is_not(None),
    apps_t.c.unhired_at.is_(None),
    apps_t.c.unhired_acked_at.is_(None),
    apps_t.c.state != State.IN_PROGRESS,
)
UNHIRED_COUNT = select(func.count()).where(apps_t.c.unhired_at.is_not(None))


def record_event(
    conn: Connection,
    application_id: str,
    at: datetime,
    step: str,
    outcome: str,
    *,
    message: str | None = None,
    attempt: int = 0,
    worker: str | None = None,
) -> None:
    """One line of a row's history, in the caller's transaction."""
    conn.execute(
        INSERT_EVENT,
        event_row(
            application_id,
            at,
            step=step,
            outcome=outcome,
            message=message,
            attempt=attempt,
            worker=worker,
        ),
    )


def add_notice(
    conn: Connection, application_id: str, event: str, summary: str | None, at: datetime
) -> None:
    """An event for the people who act, in the caller's transaction (so in the commit of what
    caused it)."""
    conn.execute(
        insert(notices_t).values(
            application_id=application_id, event=event, summary=summary, created_at=at
        )
    )


def event_row(
    application_id: str,
    at: datetime,
    *,
    step: str,
    outcome: str,
    message: str | None,
    attempt: int,
    worker: str | None,
) -> dict[str, Any]:
    return {
        "application_id": application_id,
        "at": at,
        "attempt": attempt,
        "step": step,
        "outcome": outcome,
        "message": message,
        "worker": worker,
    }


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def dialect_insert(conn: Connection) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both PostgreSQL and SQLite do)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def insert_ignore(conn: Connection) -> Any:
    """INSERT … ON CONFLICT DO NOTHING in the dialect's own words, for an executemany."""
    return dialect_insert(conn)(apps_t).on_conflict_do_nothing(index_elements=["application_id"])
