"""The ledger: loads and saves rows of processed_applications. No business rules here.

Every write is its own short transaction, committed before the caller makes its next outside
call. Row writes by a worker are fenced on ``claimed_by``: a worker whose lease was taken over
gets ``LeaseLost`` instead of overwriting the new owner's progress.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    delete,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from poller.db_url import normalise_url
from poller.errors import PollerError, StoreError
from poller.models import HireSummary
from poller.store.engine import make_engine
from poller.store.schema import HEAD_REVISION
from poller.store.schema import application_events as events_t
from poller.store.schema import poller_state as state_t
from poller.store.schema import processed_applications as apps_t

P = ParamSpec("P")
T = TypeVar("T")

ACTIVE = ("pending", "in_progress")
MIGRATION_LOCK_ID = 7_304_961_226  # any constant; names the advisory lock around migrations
STATES = ("pending", "in_progress", "done", "failed", "baseline")


class LeaseLost(PollerError):
    """Another worker holds this row now: stop working on it."""


@dataclass(frozen=True)
class Record:
    """One row of processed_applications, as loaded."""

    application_id: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    claimed_by: str | None
    lease_expires_at: datetime | None
    hibob_employee_id: str | None
    employee_link: str | None
    cv_document_id: str | None
    cv_status: str | None
    pinpoint_comment_id: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    candidate_name: str | None
    email: str | None
    pinpoint_updated_at: datetime | None
    create_started_at: datetime | None
    cv_started_at: datetime | None
    comment_started_at: datetime | None
    last_error_step: str | None
    start_date: date | None
    start_date_source: str | None
    mapping_notes: str | None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Event:
    at: datetime
    attempt: int
    step: str
    outcome: str
    message: str | None
    worker: str | None


def utcnow() -> datetime:
    return datetime.now(UTC)


def _mask_url(text: str) -> str:
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)


def _store_errors(fn: Callable[P, T]) -> Callable[P, T]:
    """Translate SQLAlchemy failures into StoreError at this boundary (no password inside).

    sqlite3.Error too: the BEGIN IMMEDIATE of a new transaction goes to the driver directly.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except (SQLAlchemyError, sqlite3.Error) as exc:
            detail = _mask_url(str(getattr(exc, "orig", None) or exc).splitlines()[0])
            raise StoreError(f"database error during {fn.__name__}: {detail}") from None

    return wrapper


class Ledger:
    def __init__(self, url: str, *, pool_size: int = 5, read_only: bool = False) -> None:
        """``read_only``: every write fails in the database itself (see make_engine)."""
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, pool_size=pool_size, read_only=read_only)

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # -- schema --------------------------------------------------------------------------
    @_store_errors
    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        import migrations

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Pods starting together on a fresh database: one migrates, the others wait
                # here and then find the schema current. (SQLite's BEGIN IMMEDIATE does this.)
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    @_store_errors
    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    @_store_errors
    def schema_current(self) -> bool:
        """One plain query, no Alembic import: a CronJob pays this on every start."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return False
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return current == HEAD_REVISION

    def migrate_if_needed(self) -> None:
        if not self.schema_current():
            self.migrate()

    # -- poller_state ----------------------------------------------------------------------
    @_store_errors
    def get_state(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {r.key: r.value for r in conn.execute(select(state_t.c.key, state_t.c.value))}

    @_store_errors
    def set_state(self, values: dict[str, str], *, now: datetime | None = None) -> None:
        """Upsert: two processes' first cycles may both write the watermark at once."""
        now = now or utcnow()
        with self._tx() as conn:
            for key, value in values.items():
                stmt = _dialect_insert(conn)(state_t).values(key=key, value=value, updated_at=now)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[state_t.c.key],
                        set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
                    )
                )

    # -- discovery -------------------------------------------------------------------------
    @_store_errors
    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(apps_t.c.application_id).limit(1)).first() is None

    @_store_errors
    def known_ids(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(ids, 500):
                q = select(apps_t.c.application_id).where(apps_t.c.application_id.in_(chunk))
                found.update(conn.execute(q).scalars())
        return found

    @_store_errors
    def record_discovered(
        self, hires: Sequence[HireSummary], *, baseline_before: datetime | None, now: datetime
    ) -> dict[str, int]:
        """Insert unseen hires: ``baseline`` if updated before ``baseline_before``, else pending.

        Idempotent: a row that exists is left as it is, whoever inserted it first.
        """
        counts = {"pending": 0, "baseline": 0}
        with self._tx() as conn:
            for chunk in _chunks(hires, 500):
                ids = [h.id for h in chunk]
                existing = set(
                    conn.execute(
                        select(apps_t.c.application_id).where(apps_t.c.application_id.in_(ids))
                    ).scalars()
                )
                rows = []
                for h in chunk:
                    if h.id in existing:
                        continue
                    existing.add(h.id)
                    state = (
                        "baseline"
                        if baseline_before is not None and h.updated_at < baseline_before
                        else "pending"
                    )
                    counts[state] += 1
                    rows.append(
                        {
                            "application_id": h.id,
                            "state": state,
                            "attempts": 0,
                            "pinpoint_updated_at": h.updated_at,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                if rows:
                    conn.execute(_insert_ignore(conn, rows))
        return counts

    @_store_errors
    def promote_baseline(self, ids: Sequence[str], *, now: datetime) -> int:
        """--backfill-since: baseline rows among ``ids`` become pending."""
        n = 0
        with self._tx() as conn:
            for app_id in ids:
                if conn.execute(
                    update(apps_t)
                    .where(apps_t.c.application_id == app_id, apps_t.c.state == "baseline")
                    .values(state="pending", next_attempt_at=None, updated_at=now)
                ).rowcount:
                    n += 1
                    _record_event(
                        conn,
                        app_id,
                        now,
                        "discover",
                        "backfill",
                        message="promoted from baseline by --backfill-since",
                    )
        return n

    # -- claiming --------------------------------------------------------------------------
    @_store_errors
    def claim_next(
        self, worker: str, *, lease_seconds: float, now: datetime, exclude: Iterable[str] = ()
    ) -> Record | None:
        """Take one due row under a lease, by a conditional UPDATE (safe across processes)."""
        skip = list(exclude)
        claim = _CLAIM_RETURNING if self.engine.dialect.update_returning else _CLAIM
        for _ in range(20):  # another worker may win each candidate; try the next ones
            with self._tx() as conn:
                candidates = list(conn.execute(_CANDIDATES, {"k_now": now, "k_skip": skip}))
                if not candidates:
                    return None
                for (app_id,) in candidates:
                    params = {
                        "k_app": app_id,
                        "k_now": now,
                        "k_worker": worker,
                        "k_lease": now + timedelta(seconds=lease_seconds),
                    }
                    result = conn.execute(claim, params)
                    if claim is _CLAIM_RETURNING:
                        row = result.first()
                    else:  # SQLite before 3.35: read the row back
                        won = result.rowcount == 1
                        row = conn.execute(_ROW, {"k_app": app_id}).one() if won else None
                    if row is not None:
                        return Record(**row._asdict())
                    skip.append(app_id)
        return None

    @_store_errors
    def checkpoint(
        self,
        app_id: str,
        worker: str,
        *,
        step: str,
        outcome: str,
        message: str | None = None,
        lease_seconds: float | None = None,
        now: datetime | None = None,
        attempt: int | None = None,
        history: Sequence[tuple[str, str, str | None]] = (),
        **values: Any,
    ) -> None:
        """Save progress and its history in one commit, if this worker still owns the row.

        ``history`` holds earlier (step, outcome, message) lines that this commit also saves
        (checkpoints the caller deferred to it). ``attempt`` is the row's attempt number as
        claimed; it is read back when not given.
        """
        now = now or utcnow()
        values["updated_at"] = now
        if lease_seconds is not None:
            values["lease_expires_at"] = now + timedelta(seconds=lease_seconds)
        with self._tx() as conn:
            n = conn.execute(_FENCED_UPDATE, {"k_app": app_id, "k_worker": worker, **values})
            if n.rowcount != 1:
                raise LeaseLost(f"application {app_id}: the lease was taken over")
            if attempt is None:
                attempt = conn.execute(_ATTEMPTS, {"k_app": app_id}).scalar_one()
            lines = [
                _event_row(
                    app_id, now, step=line_step, outcome=line_outcome, message=line_message,
                    attempt=attempt, worker=worker,
                )
                for line_step, line_outcome, line_message in (*history, (step, outcome, message))
            ]
            conn.execute(_INSERT_EVENT, lines if len(lines) > 1 else lines[0])

    # -- reading ---------------------------------------------------------------------------
    @_store_errors
    def get(self, app_id: str) -> Record | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(apps_t).where(apps_t.c.application_id == app_id)).first()
        return Record(**row._asdict()) if row else None

    @_store_errors
    def events(self, app_id: str) -> list[Event]:
        q = select(events_t).where(events_t.c.application_id == app_id).order_by(events_t.c.id)
        with self.engine.connect() as conn:
            return [
                Event(r.at, r.attempt, r.step, r.outcome, r.message, r.worker)
                for r in conn.execute(q)
            ]

    @_store_errors
    def rows(self, *, state: str | None = None, limit: int = 100) -> list[Record]:
        q = select(apps_t).order_by(apps_t.c.updated_at.desc(), apps_t.c.application_id.desc())
        if state:
            q = q.where(apps_t.c.state == state)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [Record(**r._asdict()) for r in conn.execute(q)]

    @_store_errors
    def counts(self) -> dict[str, int]:
        q = select(apps_t.c.state, func.count()).group_by(apps_t.c.state)
        with self.engine.connect() as conn:
            found = {state: int(n) for state, n in conn.execute(q)}
        return {s: found.get(s, 0) for s in STATES}

    @_store_errors
    def oldest_pending(self) -> datetime | None:
        q = (
            select(apps_t.c.created_at)
            .where(apps_t.c.state.in_(ACTIVE))
            .order_by(apps_t.c.created_at)
            .limit(1)
        )
        with self.engine.connect() as conn:
            value: datetime | None = conn.execute(q).scalar()
        return value

    # -- operator actions ------------------------------------------------------------------
    @_store_errors
    def retry(self, app_ids: Sequence[str] | None, *, now: datetime, note: str) -> list[str]:
        """Failed rows back to pending, attempts reset; progress columns are kept."""
        with self._tx() as conn:
            q = select(apps_t.c.application_id).where(apps_t.c.state == "failed")
            if app_ids is not None:
                q = q.where(apps_t.c.application_id.in_(app_ids))
            ids = list(conn.execute(q).scalars())
            for app_id in ids:
                conn.execute(
                    update(apps_t)
                    .where(apps_t.c.application_id == app_id, apps_t.c.state == "failed")
                    .values(
                        state="pending",
                        attempts=0,
                        next_attempt_at=None,
                        claimed_by=None,
                        lease_expires_at=None,
                        # A CV that was skipped gets another try; everything done stays done.
                        cv_status=func.nullif(apps_t.c.cv_status, "skipped"),
                        updated_at=now,
                    )
                )
                _record_event(conn, app_id, now, "operator", "retry", message=note)
        return ids

    @_store_errors
    def resolve(self, app_id: str, *, now: datetime, note: str) -> bool:
        with self._tx() as conn:
            n = conn.execute(
                update(apps_t)
                .where(apps_t.c.application_id == app_id, apps_t.c.state.in_(("failed", "pending")))
                .values(
                    state="done",
                    completed_at=now,
                    updated_at=now,
                    claimed_by=None,
                    lease_expires_at=None,
                    next_attempt_at=None,
                )
            ).rowcount
            if n:
                _record_event(conn, app_id, now, "operator", "resolved", message=note)
        return bool(n)

    @_store_errors
    def purge(self, app_id: str, *, now: datetime) -> bool:
        """Forget a row's personal data; keep the fact that the application was handled."""
        with self._tx() as conn:
            n = conn.execute(
                update(apps_t)
                .where(apps_t.c.application_id == app_id)
                .values(candidate_name=None, email=None, last_error=None, updated_at=now)
            ).rowcount
            if n:
                conn.execute(delete(events_t).where(events_t.c.application_id == app_id))
                _record_event(
                    conn, app_id, now, "operator", "purged", message="personal data removed"
                )
        return bool(n)

    @_store_errors
    def release(self, app_id: str, worker: str, *, now: datetime, note: str) -> None:
        """Give a claimed row back untouched (shutdown or an aborted cycle), attempt refunded."""
        with self._tx() as conn:
            n = conn.execute(
                update(apps_t)
                .where(
                    apps_t.c.application_id == app_id,
                    apps_t.c.claimed_by == worker,
                    apps_t.c.state == "in_progress",
                )
                .values(
                    state="pending",
                    claimed_by=None,
                    lease_expires_at=None,
                    attempts=func.max(apps_t.c.attempts - 1, 0)
                    if self.engine.dialect.name == "sqlite"
                    else func.greatest(apps_t.c.attempts - 1, 0),
                    updated_at=now,
                )
            ).rowcount
            if n:
                _record_event(conn, app_id, now, "worker", "released", message=note, worker=worker)

    def dispose(self) -> None:
        self.engine.dispose()


# The hot path's statements, built once: SQLAlchemy caches their compiled form, and building
# them anew per call (cache key and all) was most of the ledger's CPU (bench/).
# Expired leases first, then pending rows by when they are due and how old they are (rows
# never rescheduled, with no next_attempt_at, sort where the database puts NULLs). The ORDER
# BY is the due index's own order, and "state IN (...)" (SQLite reads the two equalities as
# one) lets the database walk that index and stop at the LIMIT, not sort every due row.
_DUE = and_(
    or_(apps_t.c.state == "in_progress", apps_t.c.state == "pending"),
    or_(
        and_(
            apps_t.c.state == "pending",
            or_(
                apps_t.c.next_attempt_at.is_(None),
                apps_t.c.next_attempt_at <= bindparam("k_now"),
            ),
        ),
        and_(apps_t.c.state == "in_progress", apps_t.c.lease_expires_at < bindparam("k_now")),
    ),
)
_CANDIDATES = (
    select(apps_t.c.application_id)
    .where(_DUE, apps_t.c.application_id.not_in(bindparam("k_skip", expanding=True)))
    .order_by(apps_t.c.state, apps_t.c.next_attempt_at, apps_t.c.created_at)
    .limit(8)
)
_CLAIM = (
    update(apps_t)
    .where(apps_t.c.application_id == bindparam("k_app"), _DUE)
    .values(
        state="in_progress",
        claimed_by=bindparam("k_worker"),
        lease_expires_at=bindparam("k_lease"),
        attempts=apps_t.c.attempts + 1,
        updated_at=bindparam("k_now"),
    )
)
_CLAIM_RETURNING = _CLAIM.returning(*apps_t.c)
_ROW = select(apps_t).where(apps_t.c.application_id == bindparam("k_app"))
_ATTEMPTS = select(apps_t.c.attempts).where(apps_t.c.application_id == bindparam("k_app"))
# Its SET clause is whatever columns the parameters name.
_FENCED_UPDATE = update(apps_t).where(
    apps_t.c.application_id == bindparam("k_app"),
    apps_t.c.claimed_by == bindparam("k_worker"),
    apps_t.c.state == "in_progress",
)
_INSERT_EVENT = insert(events_t)


def _record_event(
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
        _INSERT_EVENT,
        _event_row(
            application_id, at, step=step, outcome=outcome, message=message, attempt=attempt,
            worker=worker,
        ),
    )


def _event_row(
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
        "application_id": application_id, "at": at, "attempt": attempt, "step": step,
        "outcome": outcome, "message": message, "worker": worker,
    }


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _dialect_insert(conn: Connection) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both PostgreSQL and SQLite do)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def _insert_ignore(conn: Connection, rows: list[dict[str, Any]]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING in the dialect's own words."""
    return (
        _dialect_insert(conn)(apps_t)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["application_id"])
    )
