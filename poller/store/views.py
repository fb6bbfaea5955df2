"""Read-only views over the ledger for the status page: a searchable, paged table and hires
per day. The same tables as ``poller.ledger``, the same error translation (``StoreError``);
nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select

from poller.models import CHANGED, UNHIRED, Record, State, utcnow
from poller.store.changes import has_open_change
from poller.store.ledger import Ledger
from poller.store.schema import processed_applications as apps_t
from poller.store.statements import store_errors

__all__ = ["Page", "hires_per_day", "search"]

MAX_QUERY_LENGTH = 200  # a search longer than any id, name or HiBob id is cut here


@dataclass(frozen=True)
class Page:
    """One page of the table, newest first."""

    rows: list[Record]
    total: int  # rows matching the filter, on every page
    number: int  # 1-based, as asked for (it may lie past the last page: then rows is empty)
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def _like_escaped(text: str) -> str:
    """``text`` as a LIKE pattern that matches itself anywhere (% and _ taken literally)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matches(query: str) -> ColumnElement[bool]:
    """The application id, the candidate's name or the HiBob id contains ``query``
    (ignoring case)."""
    pattern = _like_escaped(query)
    return or_(
        *(
            column.ilike(pattern, escape="\\")
            for column in (
                apps_t.c.application_id,
                apps_t.c.candidate_name,
                apps_t.c.hibob_employee_id,
            )
        )
    )


@store_errors
def search(
    ledger: Ledger,
    *,
    state: str | None = None,
    query: str | None = None,
    page: int = 1,
    size: int = 50,
) -> Page:
    """Rows in ``state`` (any when None) whose id, name or HiBob id contains ``query``."""
    if page < 1 or size < 1:
        raise ValueError("page and size start at 1")
    conditions: list[ColumnElement[bool]] = []
    if state == UNHIRED:
        conditions.append(apps_t.c.unhired_at.is_not(None))
    elif state == CHANGED:
        conditions.append(has_open_change())
    elif state:
        conditions.append(apps_t.c.state == state)
    query = (query or "").strip()[:MAX_QUERY_LENGTH]
    if query:
        conditions.append(_matches(query))
    rows_q = (
        select(apps_t)
        .where(*conditions)
        # As `poller list`: the most recently changed first, ties by id.
        .order_by(apps_t.c.updated_at.desc(), apps_t.c.application_id.desc())
        .limit(size)
        .offset((page - 1) * size)
    )
    count_q = select(func.count()).select_from(apps_t).where(*conditions)
    with ledger.engine.connect() as conn:
        total = int(conn.execute(count_q).scalar_one())
        rows = [Record(**r._asdict()) for r in conn.execute(rows_q)] if total else []
    return Page(rows=rows, total=total, number=page, size=size)


@store_errors
def hires_per_day(
    ledger: Ledger, *, days: int = 30, now: datetime | None = None
) -> list[tuple[date, int]]:
    """Done rows by the UTC day of ``completed_at``, for the ``days`` days up to today, oldest
    first, every day present (0 when none).

    Counted here rather than by the database: day arithmetic differs between SQLite and
    PostgreSQL, and a month of hires is a few thousand timestamps at most.
    """
    today = (now or utcnow()).astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    q = select(apps_t.c.completed_at).where(
        apps_t.c.state == State.DONE, apps_t.c.completed_at >= since
    )
    per_day = {first + timedelta(days=i): 0 for i in range(days)}
    with ledger.engine.connect() as conn:
        for (completed_at,) in conn.execute(q):
            day = completed_at.date()
            if day in per_day:
                per_day[day] += 1
    return sorted(per_day.items())
