"""What operators do to rows by hand: retry a failed row, resolve it, purge its personal data,
acknowledge an un-hire flag and open changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update

from poller.models import CVStatus, State
from poller.store.changes import ack_changes
from poller.store.schema import application_changes as changes_t
from poller.store.schema import application_events as events_t
from poller.store.schema import notifications as notices_t
from poller.store.schema import processed_applications as apps_t
from poller.store.statements import StoreBase, record_event, store_errors


class OperatorActions(StoreBase):
    @store_errors
    def retry(self, app_ids: Sequence[str] | None, *, now: datetime, note: str) -> list[str]:
        """Failed rows back to pending, attempts reset; progress columns are kept."""
        with self._tx() as conn:
            q = select(apps_t.c.application_id).where(apps_t.c.state == State.FAILED)
            if app_ids is not None:
                q = q.where(apps_t.c.application_id.in_(app_ids))
            ids = list(conn.execute(q).scalars())
            for app_id in ids:
                conn.execute(
                    update(apps_t)
                    .where(apps_t.c.application_id == app_id, apps_t.c.state == State.FAILED)
                    .values(
                        state=State.PENDING,
                        attempts=0,
                        next_attempt_at=None,
                        claimed_by=None,
                        lease_expires_at=None,
                        # A CV that was skipped gets another try; everything done stays done.
                        cv_status=func.nullif(apps_t.c.cv_status, CVStatus.SKIPPED),
                        updated_at=now,
                    )
                )
                record_event(conn, app_id, now, "operator", "retry", message=note)
        return ids

    @store_errors
    def resolve(self, app_id: str, *, now: datetime, note: str) -> bool:
        with self._tx() as conn:
            n = conn.execute(
                update(apps_t)
                .where(
                    apps_t.c.application_id == app_id,
                    apps_t.c.state.in_((State.FAILED, State.PENDING)),
                )
                .values(
                    state=State.DONE,
                    completed_at=now,
                    updated_at=now,
                    claimed_by=None,
                    lease_expires_at=None,
                    next_attempt_at=None,
                )
            ).rowcount
            if n:
                record_event(conn, app_id, now, "operator", "resolved", message=note)
        return bool(n)

    @store_errors
    def purge(self, app_id: str, *, now: datetime) -> bool:
        """Forget a row's personal data; keep the fact that the application was handled."""
        with self._tx() as conn:
            n = conn.execute(
                update(apps_t)
                .where(apps_t.c.application_id == app_id)
                .values(
                    candidate_name=None, email=None, last_error=None, watched=None, updated_at=now
                )
            ).rowcount
            if n:
                conn.execute(delete(events_t).where(events_t.c.application_id == app_id))
                # What changed after the hire held names and emails: the facts stay.
                conn.execute(
                    update(changes_t)
                    .where(changes_t.c.application_id == app_id)
                    .values(old_value=None, new_value=None, payload=None, note=None)
                )
                conn.execute(
                    update(notices_t)
                    .where(notices_t.c.application_id == app_id)
                    .values(summary=None)
                )
                record_event(
                    conn, app_id, now, "operator", "purged", message="personal data removed"
                )
        return bool(n)

    @store_errors
    def ack(self, app_id: str, *, now: datetime, note: str | None) -> tuple[bool, int]:
        """A person looked at the row: clear its un-hire flag, and keep it from being raised
        again for this un-hire (it is, if the application comes back to hired and leaves
        again); close its open changes. Returns (flag cleared, changes closed)."""
        with self._tx() as conn:
            flag = conn.execute(
                update(apps_t)
                .where(apps_t.c.application_id == app_id, apps_t.c.unhired_at.is_not(None))
                .values(unhired_at=None, unhired_stage=None, unhired_acked_at=now, updated_at=now)
            ).rowcount
            closed = ack_changes(conn, app_id, now, note)
            if flag or closed:
                message = note
                if closed:
                    message = f"{closed} open change(s) closed" + (f": {note}" if note else "")
                record_event(conn, app_id, now, "operator", "acknowledged", message=message)
        return bool(flag), closed
