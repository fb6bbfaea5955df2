"""Notifications in the store: the events waiting for each target, and a lease per target so
that two replicas never send the same events at once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from poller.models import Notice
from poller.store.schema import notifications as notices_t
from poller.store.schema import poller_state as state_t
from poller.store.schema import processed_applications as apps_t
from poller.store.statements import StoreBase, dialect_insert, store_errors


class NoticeStore(StoreBase):
    @store_errors
    def notices_after(self, cursor: int, *, limit: int = 1000) -> list[Notice]:
        """Events with an id above ``cursor``, oldest first, with the candidate's name."""
        q = (
            select(*notices_t.c, apps_t.c.candidate_name)
            .join(apps_t, apps_t.c.application_id == notices_t.c.application_id)
            .where(notices_t.c.id > cursor)
            .order_by(notices_t.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [Notice(**r) for r in conn.execute(q).mappings()]

    @store_errors
    def last_notice_id(self, *, before: datetime | None = None) -> int:
        """The newest event's id (of those created before ``before``); 0 when none."""
        q = select(func.max(notices_t.c.id))
        if before is not None:
            q = q.where(notices_t.c.created_at < before)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    @store_errors
    def prune_notices(self, *, before: datetime) -> int:
        with self._tx() as conn:
            return int(
                conn.execute(delete(notices_t).where(notices_t.c.created_at < before)).rowcount
            )

    @store_errors
    def claim_lease(self, name: str, holder: str, *, now: datetime, seconds: float) -> bool:
        """Hold ``name`` (a poller_state key) for ``seconds``, unless another holder's lease
        on it is still running. Safe across processes: one conditional write decides."""
        value = f"{(now + timedelta(seconds=seconds)).isoformat()} {holder}"
        with self._tx() as conn:
            insert = dialect_insert(conn)(state_t).values(key=name, value=value, updated_at=now)
            if conn.execute(insert.on_conflict_do_nothing(index_elements=["key"])).rowcount:
                return True
            current = conn.execute(select(state_t.c.value).where(state_t.c.key == name)).scalar()
            until, _, owner = (current or "").partition(" ")
            try:
                expired = datetime.fromisoformat(until) <= now
            except ValueError:
                expired = True
            if not expired and owner != holder:
                return False
            taken = conn.execute(
                update(state_t)
                .where(state_t.c.key == name, state_t.c.value == current)
                .values(value=value, updated_at=now)
            ).rowcount
            return bool(taken)

    @store_errors
    def release_lease(self, name: str, holder: str, *, now: datetime) -> None:
        with self._tx() as conn:
            conn.execute(
                update(state_t)
                .where(state_t.c.key == name, state_t.c.value.like(f"% {holder}"))
                .values(value=f"{now.isoformat()} -", updated_at=now)
            )
