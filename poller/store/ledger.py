"""The ledger: loads and saves rows of processed_applications. No business rules here.

Every write is its own short transaction, committed before the caller makes its next outside
call. Row writes by a worker are fenced on ``claimed_by``: a worker whose lease was taken over
gets ``LeaseLost`` instead of overwriting the new owner's progress.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select, text, update

from poller.db_url import normalise_url
from poller.errors import LeaseLost
from poller.models import ACTIVE_STATES, Event, HireSummary, Record, State, utcnow
from poller.store.engine import make_engine
from poller.store.operator import OperatorActions
from poller.store.schema import HEAD_REVISION
from poller.store.schema import application_events as events_t
from poller.store.schema import poller_state as state_t
from poller.store.schema import processed_applications as apps_t
from poller.store.statements import (
    ATTEMPTS,
    CANDIDATES,
    CLAIM,
    CLAIM_RETURNING,
    FENCED_UPDATE,
    INSERT_EVENT,
    ROW,
    chunks,
    dialect_insert,
    event_row,
    insert_ignore,
    record_event,
    store_errors,
)

MIGRATION_LOCK_ID = 7_304_961_226  # any constant; names the advisory lock around migrations


class Ledger(OperatorActions):
    """The ledger: a row per application, claimed under leases and checkpointed; its state."""

    def __init__(self, url: str, *, pool_size: int = 5, read_only: bool = False) -> None:
        """``read_only``: every write fails in the database itself (see make_engine)."""
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, pool_size=pool_size, read_only=read_only)

    # -- schema --------------------------------------------------------------------------
    @store_errors
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

    @store_errors
    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    @store_errors
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
    @store_errors
    def get_state(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {r.key: r.value for r in conn.execute(select(state_t.c.key, state_t.c.value))}

    @store_errors
    def set_state(self, values: dict[str, str], *, now: datetime | None = None) -> None:
        """Upsert: two processes' first cycles may both write the watermark at once."""
        now = now or utcnow()
        with self._tx() as conn:
            for key, value in values.items():
                stmt = dialect_insert(conn)(state_t).values(key=key, value=value, updated_at=now)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[state_t.c.key],
                        set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
                    )
                )

    # -- discovery -------------------------------------------------------------------------
    @store_errors
    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(apps_t.c.application_id).limit(1)).first() is None

    @store_errors
    def record_discovered(
        self, hires: Sequence[HireSummary], *, baseline_before: datetime | None, now: datetime
    ) -> dict[str, int]:
        """Insert unseen hires: ``baseline`` if updated before ``baseline_before``, else pending.

        Idempotent: a row that exists is left as it is, whoever inserted it first.
        """
        counts: dict[str, int] = {State.PENDING: 0, State.BASELINE: 0}
        with self._tx() as conn:
            for chunk in chunks(hires, 500):
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
                        State.BASELINE
                        if baseline_before is not None and h.updated_at < baseline_before
                        else State.PENDING
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
                    conn.execute(insert_ignore(conn, rows))
        return counts

    @store_errors
    def promote_baseline(self, ids: Sequence[str], *, now: datetime) -> int:
        """--backfill-since: baseline rows among ``ids`` become pending."""
        n = 0
        with self._tx() as conn:
            for app_id in ids:
                if conn.execute(
                    update(apps_t)
                    .where(apps_t.c.application_id == app_id, apps_t.c.state == State.BASELINE)
                    .values(state=State.PENDING, next_attempt_at=None, updated_at=now)
                ).rowcount:
                    n += 1
                    record_event(
                        conn,
                        app_id,
                        now,
                        "discover",
                        "backfill",
                        message="promoted from baseline by --backfill-since",
                    )
        return n

    # -- claiming --------------------------------------------------------------------------
    @store_errors
    def claim_next(
        self, worker: str, *, lease_seconds: float, now: datetime, exclude: Iterable[str] = ()
    ) -> Record | None:
        """Take one due row under a lease, by a conditional UPDATE (safe across processes)."""
        skip = list(exclude)
        claim = CLAIM_RETURNING if self.engine.dialect.update_returning else CLAIM
        for _ in range(20):  # another worker may win each candidate; try the next ones
            with self._tx() as conn:
                candidates = list(conn.execute(CANDIDATES, {"k_now": now, "k_skip": skip}))
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
                    if claim is CLAIM_RETURNING:
                        row = result.first()
                    else:  # SQLite before 3.35: read the row back
                        won = result.rowcount == 1
                        row = conn.execute(ROW, {"k_app": app_id}).one() if won else None
                    if row is not None:
                        return Record(**row._asdict())
                    skip.append(app_id)
        return None

    @store_errors
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
            n = conn.execute(FENCED_UPDATE, {"k_app": app_id, "k_worker": worker, **values})
            if n.rowcount != 1:
                raise LeaseLost(f"application {app_id}: the lease was taken over")
            if attempt is None:
                attempt = conn.execute(ATTEMPTS, {"k_app": app_id}).scalar_one()
            lines = [
                event_row(
                    app_id,
                    now,
                    step=line_step,
                    outcome=line_outcome,
                    message=line_message,
                    attempt=attempt,
                    worker=worker,
                )
                for line_step, line_outcome, line_message in (*history, (step, outcome, message))
            ]
            conn.execute(INSERT_EVENT, lines if len(lines) > 1 else lines[0])

    # -- reading ---------------------------------------------------------------------------
    @store_errors
    def get(self, app_id: str) -> Record | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(apps_t).where(apps_t.c.application_id == app_id)).first()
        return Record(**row._asdict()) if row else None

    @store_errors
    def events(self, app_id: str) -> list[Event]:
        q = select(events_t).where(events_t.c.application_id == app_id).order_by(events_t.c.id)
        with self.engine.connect() as conn:
            return [
                Event(r.at, r.attempt, r.step, r.outcome, r.message, r.worker)
                for r in conn.execute(q)
            ]

    @store_errors
    def rows(self, *, state: str | None = None, limit: int = 100) -> list[Record]:
        q = select(apps_t).order_by(apps_t.c.updated_at.desc(), apps_t.c.application_id.desc())
        if state:
            q = q.where(apps_t.c.state == state)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [Record(**r._asdict()) for r in conn.execute(q)]

    @store_errors
    def counts(self) -> dict[str, int]:
        q = select(apps_t.c.state, func.count()).group_by(apps_t.c.state)
        with self.engine.connect() as conn:
            found = {state: int(n) for state, n in conn.execute(q)}
        return {s.value: found.get(s, 0) for s in State}

    @store_errors
    def oldest_pending(self) -> datetime | None:
        q = (
            select(apps_t.c.created_at)
            .where(apps_t.c.state.in_(ACTIVE_STATES))
            .order_by(apps_t.c.created_at)
            .limit(1)
        )
        with self.engine.connect() as conn:
            value: datetime | None = conn.execute(q).scalar()
        return value

    @store_errors
    def release(self, app_id: str, worker: str, *, now: datetime, note: str) -> None:
        """Give a claimed row back untouched (shutdown or an aborted cycle), attempt refunded."""
        with self._tx() as conn:
            n = conn.execute(
                update(apps_t)
                .where(
                    apps_t.c.application_id == app_id,
                    apps_t.c.claimed_by == worker,
                    apps_t.c.state == State.IN_PROGRESS,
                )
                .values(
                    state=State.PENDING,
                    claimed_by=None,
                    lease_expires_at=None,
                    attempts=func.max(apps_t.c.attempts - 1, 0)
                    if self.engine.dialect.name == "sqlite"
                    else func.greatest(apps_t.c.attempts - 1, 0),
                    updated_at=now,
                )
            ).rowcount
            if n:
                record_event(conn, app_id, now, "worker", "released", message=note, worker=worker)

    def dispose(self) -> None:
        self.engine.dispose()
