"""The ledger: loads and saves rows of processed_applications. No business rules here.

Every write is its own short transaction, committed before the caller makes its next outside
call. Row writes by a worker are fenced on ``claimed_by``: a worker whose lease was taken over
gets ``LeaseLost`` instead of overwriting the new owner's progress.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, inspect, select, text, update

from poller.db_url import normalise_url
from poller.errors import LeaseLost
from poller.models import (
    ACTIVE_STATES,
    CHANGED,
    UNHIRED,
    Entry,
    Event,
    HireSummary,
    Record,
    State,
    utcnow,
)
from poller.store.changes import ChangeStore, has_open_change
from poller.store.engine import make_engine
from poller.store.notices import NoticeStore
from poller.store.operator import OperatorActions
from poller.store.schema import HEAD_REVISION
from poller.store.schema import application_events as events_t
from poller.store.schema import poller_state as state_t
from poller.store.schema import processed_applications as apps_t
from poller.store.statements import (
    ATTEMPTS,
    CLAIM,
    CLAIM_RETURNING,
    FENCED_UPDATE,
    INSERT_EVENT,
    KNOWN,
    ROW,
    UNHIRE_CANDIDATES,
    UNHIRED_COUNT,
    add_notice,
    candidates,
    chunks,
    dialect_insert,
    event_row,
    insert_ignore,
    record_event,
    store_errors,
)

MIGRATION_LOCK_ID = 7_304_961_226  # any constant; names the advisory lock around migrations


class Ledger(OperatorActions, ChangeStore, NoticeStore):
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
        self, hires: Sequence[HireSummary], *, entry: Callable[[HireSummary], Entry], now: datetime
    ) -> dict[str, int]:
        """Record a listing of hires, in one transaction:

        - an unseen hire is inserted in the state ``entry`` gives it (pending, settling or
          baseline); idempotent: a row that exists is left as it is, whoever inserted it;
        - a ``withdrawn`` row listed as hired again starts over as ``entry`` says;
        - a row whose un-hire flag is up, or was acknowledged, is back in a hired stage: the
          flag is cleared, and a later un-hire would raise it again.

        Returns how many rows went each way (states, "returned" and "unflagged").
        """
        counts: dict[str, int] = dict.fromkeys(
            (State.PENDING, State.BASELINE, State.SETTLING, "returned", "unflagged"), 0
        )
        with self._tx() as conn:
            for chunk in chunks(hires, 500):
                ids = [h.id for h in chunk]
                known = {
                    r.application_id: r
                    for r in conn.execute(KNOWN, {"k_ids": ids})  # ids, states and flags
                }
                rows, seen = [], set()
                for h in chunk:
                    row = known.get(h.id)
                    if row is None and h.id not in seen:  # a listing may repeat a row
                        seen.add(h.id)
                        new = entry(h)
                        counts[new.state] += 1
                        rows.append(_new_row(h, new, now))
                    elif row is not None and row.state == State.WITHDRAWN:
                        counts["returned"] += _return(conn, h, entry(h), now)
                    elif row is not None and (row.unhired_at or row.unhired_acked_at):
                        counts["unflagged"] += _unflag(conn, h.id, now)
                if rows:
                    conn.execute(insert_ignore(conn), rows)
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

    # -- un-hires ---------------------------------------------------------------------------
    @store_errors
    def unhire_candidates(self) -> list[str]:
        """Rows that got an employee and carry no un-hire flag (raised or acknowledged), and
        that no worker holds: those a full listing should still list as hired."""
        with self.engine.connect() as conn:
            return list(conn.execute(UNHIRE_CANDIDATES).scalars())

    @store_errors
    def flag_unhired(self, app_id: str, stage: str, *, now: datetime, notify: bool = False) -> bool:
        """Raise the un-hire flag (once); the row's state is left as it was. ``notify``: tell
        the people who act, in the same commit."""
        with self._tx() as conn:
            n = conn.execute(
                update(apps_t)
                .where(
                    apps_t.c.application_id == app_id,
                    apps_t.c.unhired_at.is_(None),
                    apps_t.c.unhired_acked_at.is_(None),
                )
                .values(unhired_at=now, unhired_stage=stage[:200], updated_at=now)
            ).rowcount
            if n:
                record_event(
                    conn,
                    app_id,
                    now,
                    "unhire",
                    "flagged",
                    message=f"no longer in a hired stage: {stage}; the HiBob employee is left "
                    f"as it is for HR to decide. `poller ack {app_id}` clears this flag",
                )
                if notify:
                    add_notice(conn, app_id, "unhired", f"stage {stage[:200]}", now)
        return bool(n)

    @store_errors
    def unhired_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(UNHIRED_COUNT).scalar_one())

    # -- claiming --------------------------------------------------------------------------
    @store_errors
    def claim_next(
        self, worker: str, *, lease_seconds: float, now: datetime, exclude: Iterable[str] = ()
    ) -> Record | None:
        """Take one due row under a lease, by a conditional UPDATE (safe across processes)."""
        skip = list(dict.fromkeys(exclude))
        returning = self.engine.dialect.update_returning
        params = {
            "k_now": now,
            "k_worker": worker,
            "k_lease": now + timedelta(seconds=lease_seconds),
        }
        for _ in range(20):  # another worker may win each candidate; try the next ones
            with self._tx() as conn:
                found = list(conn.execute(candidates(skip), params).scalars())
                if not found:
                    return None
                for app_id in found:
                    claim = {**params, "k_app": app_id}
                    if returning:
                        row = conn.execute(CLAIM_RETURNING, claim).mappings().first()
                    elif conn.execute(CLAIM, claim).rowcount == 1:  # SQLite before 3.35
                        row = conn.execute(ROW, claim).mappings().first()
                    else:
                        row = None
                    if row is not None:
                        return Record(**row)
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
        notify: tuple[str, str | None] | None = None,
        **values: Any,
    ) -> None:
        """Save progress and its history in one commit, if this worker still owns the row.

        ``history`` holds earlier (step, outcome, message) lines that this commit also saves
        (checkpoints the caller deferred to it). ``notify``: an (event, summary) for the people
        who act, saved in this commit too. ``attempt`` is the row's attempt number as
        claimed; it is read back when not given.
        """
        now = now or utcnow()
        values["updated_at"] = now
        if lease_seconds is not None:
            values["lease_expires_at"] = now + timedelta(seconds=lease_seconds)
        with self._tx() as conn:
            fenced = {"k_app": app_id, "k_worker": worker}
            if conn.execute(FENCED_UPDATE.values(**values), fenced).rowcount != 1:
                raise LeaseLost(f"application {app_id}: the lease was taken over")
            if attempt is None:
                attempt = conn.execute(ATTEMPTS, fenced).scalar_one()
            conn.execute(
                INSERT_EVENT,
                [
                    event_row(
                        app_id,
                        now,
                        step=line_step,
                        outcome=line_outcome,
                        message=line_message,
                        attempt=attempt,
                        worker=worker,
                    )
                    for line_step, line_outcome, line_message in (
                        *history,
                        (step, outcome, message),
                    )
                ],
            )
            if notify is not None:
                add_notice(conn, app_id, notify[0], notify[1], now)

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
        """Newest first; ``state`` may also be "unhired" (the rows whose flag is up) or
        "changed" (the rows with an open change)."""
        q = select(apps_t).order_by(apps_t.c.updated_at.desc(), apps_t.c.application_id.desc())
        if state == UNHIRED:
            q = q.where(apps_t.c.unhired_at.is_not(None))
        elif state == CHANGED:
            q = q.where(has_open_change())
        elif state:
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


def _new_row(h: HireSummary, new: Entry, now: datetime) -> dict[str, Any]:
    return {
        "application_id": h.id,
        "state": new.state,
        "attempts": 0,
        "next_attempt_at": new.due,
        "hired_at": new.hired_at,
        "pinpoint_updated_at": h.updated_at,
        "created_at": now,
        "updated_at": now,
    }


def _return(conn: Connection, h: HireSummary, new: Entry, now: datetime) -> int:
    """A withdrawn application listed as hired again starts over (it wrote nothing)."""
    n = conn.execute(
        update(apps_t)
        .where(apps_t.c.application_id == h.id, apps_t.c.state == State.WITHDRAWN)
        .values(
            state=new.state if new.state != State.BASELINE else State.PENDING,
            next_attempt_at=new.due,
            hired_at=new.hired_at,
            withdrawn_stage=None,
            attempts=0,
            pinpoint_updated_at=h.updated_at,
            updated_at=now,
        )
    ).rowcount
    if n:
        record_event(conn, h.id, now, "discover", "hired_again", message="back in a hired stage")
    return int(n)


def _unflag(conn: Connection, app_id: str, now: datetime) -> int:
    n = conn.execute(
        update(apps_t)
        .where(apps_t.c.application_id == app_id)
        .values(unhired_at=None, unhired_stage=None, unhired_acked_at=None, updated_at=now)
    ).rowcount
    if n:
        record_event(
            conn, app_id, now, "unhire", "cleared", message="back in a hired stage: flag cleared"
        )
    return int(n)
