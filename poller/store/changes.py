"""After the hire, in the store: the hires watched, the changes seen, their writes to HiBob.

A sighting is recorded by compare-and-set on the row's ``watched`` text, in the same commit
as the change rows it found: two replicas (or a rerun after a kill) that see the same change
record it once. A change to write is claimed under a lease, and only the oldest pending one
per application and field is claimable, so writes of one field reach HiBob in order.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from poller.errors import LeaseLost
from poller.models import OPEN_ACTIONS, ChangeAction, ChangeRecord, Record, State
from poller.store.schema import application_changes as changes_t
from poller.store.schema import processed_applications as apps_t
from poller.store.statements import StoreBase, add_notice, chunks, record_event, store_errors

# A change decided when seen: (field, old value, new value, action, note, payload as JSON).
Decided = tuple[str, str, str, ChangeAction, str | None, str | None]

_OPEN = and_(changes_t.c.action.in_(OPEN_ACTIONS), changes_t.c.acked_at.is_(None))


class ChangeStore(StoreBase):
    @store_errors
    def watched_rows(
        self, ids: Collection[str] | None, *, today: date, watch_days: int, now: datetime
    ) -> list[Record]:
        """Processed hires still watched: an employee, done or failed (not being worked), no
        un-hire flag, and within ``watch_days`` of their start date (or of being processed,
        for a row that records none). ``ids`` narrows to those applications."""
        q = select(apps_t).where(
            apps_t.c.hibob_employee_id.is_not(None),
            apps_t.c.state.in_((State.DONE, State.FAILED)),
            apps_t.c.unhired_at.is_(None),
            or_(
                apps_t.c.start_date >= today - timedelta(days=watch_days),
                and_(
                    apps_t.c.start_date.is_(None),
                    apps_t.c.completed_at >= now - timedelta(days=watch_days),
                ),
            ),
        )
        with self.engine.connect() as conn:
            if ids is None:
                return [Record(**r) for r in conn.execute(q).mappings()]
            found: list[Record] = []
            for chunk in chunks(sorted(ids), 500):
                rows = conn.execute(q.where(apps_t.c.application_id.in_(chunk))).mappings()
                found += [Record(**r) for r in rows]
            return found

    @store_errors
    def record_sighting(
        self,
        app_id: str,
        *,
        old: str | None,
        new: str,
        changes: Sequence[Decided],
        now: datetime,
        notify: bool = False,
    ) -> list[ChangeRecord] | None:
        """Store what was seen, and the changes found in it, in one commit, if the row still
        holds ``old``; else None (another run recorded this sighting first). ``notify``: an
        event for each change a person has to act on, in the same commit."""
        same = apps_t.c.watched.is_(None) if old is None else apps_t.c.watched == old
        values: dict[str, Any] = {"watched": new}
        if changes:
            values["updated_at"] = now
        with self._tx() as conn:
            hit = conn.execute(
                update(apps_t).where(apps_t.c.application_id == app_id, same).values(**values)
            ).rowcount
            if not hit:
                return None
            ids: list[int] = []
            for field, old_value, new_value, action, note, payload in changes:
                _supersede(conn, app_id, field, now)
                inserted = conn.execute(
                    changes_t.insert()
                    .values(
                        application_id=app_id,
                        field=field,
                        old_value=old_value,
                        new_value=new_value,
                        detected_at=now,
                        action=action,
                        note=note,
                        payload=payload,
                        attempts=0,
                    )
                    .returning(changes_t.c.id)
                ).scalar_one()
                ids.append(int(inserted))
                message = f"{field}: {old_value} -> {new_value}" + (f"; {note}" if note else "")
                record_event(conn, app_id, now, "change", action, message=message)
                if notify and action in OPEN_ACTIONS:
                    add_notice(conn, app_id, "changed", f"{message} ({action})", now)
            rows = conn.execute(select(changes_t).where(changes_t.c.id.in_(ids))).mappings()
            return [ChangeRecord(**r) for r in rows]

    @store_errors
    def claim_change(
        self, worker: str, *, now: datetime, lease_seconds: float
    ) -> ChangeRecord | None:
        """Take the next change due to be written, under a lease: pending, not held by a live
        lease, due, and the oldest pending one of its application and field."""
        older = aliased(changes_t)
        due = and_(
            changes_t.c.action == ChangeAction.PENDING,
            or_(changes_t.c.claimed_by.is_(None), changes_t.c.lease_expires_at < now),
            or_(changes_t.c.next_attempt_at.is_(None), changes_t.c.next_attempt_at <= now),
            ~exists().where(
                older.c.application_id == changes_t.c.application_id,
                older.c.field == changes_t.c.field,
                older.c.action == ChangeAction.PENDING,
                older.c.id < changes_t.c.id,
            ),
        )
        with self._tx() as conn:
            for change_id in conn.execute(
                select(changes_t.c.id).where(due).order_by(changes_t.c.id).limit(8)
            ).scalars():
                hit = conn.execute(
                    update(changes_t)
                    .where(changes_t.c.id == change_id, due)
                    .values(
                        claimed_by=worker,
                        lease_expires_at=now + timedelta(seconds=lease_seconds),
                        attempts=changes_t.c.attempts + 1,
                    )
                ).rowcount
                if hit:
                    row = conn.execute(select(changes_t).where(changes_t.c.id == change_id))
                    return ChangeRecord(**row.mappings().one())
        return None

    @store_errors
    def change_checkpoint(
        self,
        change: ChangeRecord,
        worker: str,
        *,
        now: datetime,
        outcome: str,
        message: str | None = None,
        row_values: dict[str, Any] | None = None,
        notify: str | None = None,
        **values: Any,
    ) -> None:
        """Save a claimed change's progress (and, when it ends, the row's new values) with a
        history line, in one commit, if this worker still holds it. ``notify``: a summary
        for the people who act (a "changed" event), saved in this commit too."""
        with self._tx() as conn:
            hit = conn.execute(
                update(changes_t)
                .where(
                    changes_t.c.id == change.id,
                    changes_t.c.claimed_by == worker,
                    changes_t.c.action == ChangeAction.PENDING,
                )
                .values(**values)
            ).rowcount
            if hit != 1:
                raise LeaseLost(f"change {change.id}: the lease was taken over")
            if row_values:
                conn.execute(
                    update(apps_t)
                    .where(apps_t.c.application_id == change.application_id)
                    .values(**row_values, updated_at=now)
                )
            record_event(
                conn, change.application_id, now, "change", outcome, message=message, worker=worker
            )
            if notify is not None:
                add_notice(conn, change.application_id, "changed", notify, now)

    @store_errors
    def changes_of(self, app_id: str) -> list[ChangeRecord]:
        q = select(changes_t).where(changes_t.c.application_id == app_id).order_by(changes_t.c.id)
        with self.engine.connect() as conn:
            return [ChangeRecord(**r) for r in conn.execute(q).mappings()]

    @store_errors
    def open_changes(self) -> tuple[int, datetime | None]:
        """How many changes are open (flagged or sync_failed, not acknowledged), and when the
        oldest was seen."""
        q = select(func.count(), func.min(changes_t.c.detected_at)).where(_OPEN)
        with self.engine.connect() as conn:
            n, oldest = conn.execute(q).one()
        return int(n), oldest


def has_open_change() -> Any:
    """A WHERE clause over processed_applications: the row has an open change."""
    return exists().where(changes_t.c.application_id == apps_t.c.application_id, _OPEN)


def _supersede(conn: Any, app_id: str, field: str, now: datetime) -> None:
    """A newer value makes an older one not yet being written moot: it is not written."""
    n = conn.execute(
        update(changes_t)
        .where(
            changes_t.c.application_id == app_id,
            changes_t.c.field == field,
            changes_t.c.action == ChangeAction.PENDING,
            changes_t.c.sync_started_at.is_(None),
            or_(changes_t.c.claimed_by.is_(None), changes_t.c.lease_expires_at < now),
        )
        .values(action=ChangeAction.IGNORED, note="superseded by a later value before written")
    ).rowcount
    if n:
        record_event(conn, app_id, now, "change", "superseded", message=f"{field}: {n} earlier")


def ack_changes(conn: Any, app_id: str, now: datetime, note: str | None) -> int:
    """Close the row's open changes (in the caller's transaction); how many."""
    return int(
        conn.execute(
            update(changes_t)
            .where(changes_t.c.application_id == app_id, _OPEN)
            .values(
                acked_at=now,
                note=func.coalesce(changes_t.c.note, "")
                + (f" | acknowledged: {note}" if note else " | acknowledged"),
            )
        ).rowcount
    )
