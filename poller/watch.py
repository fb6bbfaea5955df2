"""After the hire: notice what changed in Pinpoint for a processed hire, and act on it once.

**Noticing.** Every listing asks Pinpoint to include each hire's job (with its location and
department) and offers, so a listed hire is a full sighting at no extra request. A hire whose
``updated_at`` moves is in the next incremental listing; the full listing (daily) lists every
hire, so a change that doesn't move ``updated_at`` is seen there at the latest. Where a
listing came without what the watch needs (Pinpoint refused or ignored the include), the
full listing fetches those hires on their own: a request per watched hire per day, never per
cycle. Each sighting is compared with what was last seen (``poller.changes``); the store
records it by compare-and-set, once, across replicas and reruns.

**Acting.** A start date or a name is written to HiBob while the employee has not started
(HiBob's start date is still ahead); later, or for an email or a job, the change is flagged
for a person. A write is made once: its intent (``sync_started_at``) is committed first;
after an attempt that may have written it, the employee is read back before writing again.
A 304 to a name update is read back too: it means nothing changed, or that nothing took.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from poller import changes, metrics
from poller.crashpoints import crashpoint
from poller.errors import (
    AuthError,
    LeaseLost,
    NotFound,
    PollerError,
    RateLimited,
    Reaction,
    UpstreamError,
    reaction,
)
from poller.models import (
    OPEN_ACTIONS,
    Application,
    ChangeAction,
    ChangeRecord,
    EmployeeLink,
    HireSummary,
    Record,
)
from poller.services import Services

log = structlog.get_logger("poller.watch")

# Reads may lag a write by up to 20 s (HiBob): a read-back after a 304 waits out more.
READ_LAG_SECONDS = 25


@dataclass
class WatchResult:
    watched: int = 0  # sightings compared
    fetched: int = 0  # hires fetched on their own (the listing lacked what is watched)
    changes: dict[str, int] = field(default_factory=dict)  # by action


class Watch:
    def __init__(self, svc: Services, worker: str) -> None:
        self.svc = svc
        self.worker = worker

    # -- noticing -------------------------------------------------------------------------

    def observe(self, hires: Sequence[HireSummary], *, full: bool, now: datetime) -> WatchResult:
        """Compare this listing's sightings with what was last seen. ``full``: the listing
        had every hire, so a watched hire it brought without its includes is fetched."""
        result = WatchResult()
        sightings = {h.id: h.observed for h in hires if h.observed is not None}
        bare = {h.id for h in hires if h.observed is None}
        ids = None if full else set(sightings)
        if ids == set():
            return result
        rows = self.svc.ledger.watched_rows(
            ids, today=now.date(), watch_days=self.svc.settings.changes.watch_days, now=now
        )
        for rec in rows:
            app = sightings.get(rec.application_id)
            if app is None and rec.application_id in bare:
                app = self._fetch(rec.application_id)
                result.fetched += 1
            if app is None:
                continue
            result.watched += 1
            for recorded in self.sighting(rec, app, now=now):
                result.changes[recorded.action] = result.changes.get(recorded.action, 0) + 1
        if result.watched or result.fetched:
            log.info("watch.done", **result.__dict__)
        return result

    def _fetch(self, app_id: str) -> Application | None:
        try:
            return self.svc.pinpoint.get_application(app_id)
        except AuthError:
            raise
        except PollerError as exc:  # gone (the un-hire check says so), or not now: next time
            log.warning("watch.fetch_failed", application_id=app_id, error=str(exc))
            return None

    def sighting(self, rec: Record, app: Application, *, now: datetime) -> list[ChangeRecord]:
        """Record one sighting of a processed hire; the changes it found."""
        cfg = self.svc.settings
        if rec.watched is None:
            seen = changes.initial_watched(rec.start_date, rec.start_date_source)
        else:
            seen = changes.load(rec.watched)
        found = changes.compare(seen, changes.watched_values(app, cfg.mapping))
        stored = changes.dump(found.watched)
        if stored == rec.watched:
            return []
        decided = []
        for change in found.changes:
            action, note = changes.decide(
                change,
                cfg.changes,
                app_id=rec.application_id,
                hibob_start=rec.start_date,
                today=now.date(),
                linked=rec.employee_link == EmployeeLink.LINKED_EXISTING,
            )
            payload = json.dumps(change.payload) if change.payload else None
            decided.append(
                (change.field, change.old_value, change.new_value, action, note, payload)
            )
        recorded = self.svc.ledger.record_sighting(
            rec.application_id,
            old=rec.watched,
            new=stored,
            changes=decided,
            now=now,
            notify="changed" in self.svc.notify,
        )
        crashpoint("checkpoint:change_seen")
        for item in recorded or ():
            if item.action != ChangeAction.PENDING:
                metrics.changes_total.labels(field=item.field, action=item.action).inc()
            log.info(
                "application.changed",
                application_id=item.application_id,
                field=item.field,
                action=item.action,
            )
        return recorded or []

    # -- acting ---------------------------------------------------------------------------

    def sync(self, *, stop: threading.Event | None = None) -> dict[str, int]:
        """Write the pending changes to HiBob, one at a time, until none is due."""
        outcomes: dict[str, int] = {}
        while stop is None or not stop.is_set():
            change = self.svc.ledger.claim_change(
                self.worker,
                now=self.svc.clock(),
                lease_seconds=self.svc.settings.worker.lease_seconds,
            )
            if change is None:
                break
            try:
                outcome = _Sync(self.svc, self.worker, change).run()
            except LeaseLost:  # another run took it over after this one's lease ran out
                outcome = "lost"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if outcomes:
            log.info("watch.synced", outcomes=outcomes)
        return outcomes


@dataclass
class _Sync:
    """One claimed change, written to HiBob once."""

    svc: Services
    worker: str
    change: ChangeRecord

    def run(self) -> str:
        svc, change = self.svc, self.change
        rec = svc.ledger.get(change.application_id)
        employee = rec.hibob_employee_id if rec is not None else None
        if rec is None or employee is None:
            return self._end(ChangeAction.IGNORED, "the row has no HiBob employee any more")
        # Checked again now: the start date may have passed since the change was seen.
        if changes.has_started(rec.start_date, svc.clock().date()):
            return self._end(
                ChangeAction.FLAGGED, changes.started_note(rec.start_date, rec.application_id)
            )
        payload: dict[str, str] = json.loads(change.payload or "{}")
        try:
            if change.field == "start_date":
                return self._start_date(rec, employee, payload["startDate"])
            return self._name(employee, payload)
        except AuthError:
            raise  # bad credentials stop the cycle; the lease lets another run take it
        except UpstreamError as exc:
            if reaction(exc) is Reaction.RESCHEDULE:  # 5xx, timeouts, 429, unreadable
                return self._later(str(exc), exc.retry_after if isinstance(exc, RateLimited) else 0)
            what = "no such employee in HiBob" if isinstance(exc, NotFound) else "HiBob refused it"
            return self._end(ChangeAction.SYNC_FAILED, self._refused(exc, what))

    def _start_date(self, rec: Record, employee: str, new: str) -> str:
        svc, change = self.svc, self.change
        if change.sync_started_at is not None:  # an earlier attempt may have written it
            current = svc.hibob.read_employee(employee)
            crashpoint("after:change_read")
            if current is not None and current["startDate"] == new:
                return self._synced(f"start date {new} found in HiBob", start_date=new)
        self._save("started", sync_started_at=svc.clock())
        reason = f"Start date changed in Pinpoint (application {rec.application_id})"
        svc.hibob.set_start_date(employee, new, reason)
        crashpoint("after:start_date_write")
        return self._synced(f"start date {new} written to HiBob", start_date=new)

    def _name(self, employee: str, payload: dict[str, str]) -> str:
        svc = self.svc
        first, last = payload["firstName"], payload["surname"]
        self._save("started", sync_started_at=svc.clock())
        changed = svc.hibob.update_fields(employee, {"firstName": first, "surname": last})
        crashpoint("after:name_write")
        name = f"{first} {last}"
        if changed:
            return self._synced(f"name {name} written to HiBob", candidate_name=name)
        # 304: nothing changed (HiBob had it: our own earlier write), or nothing took.
        current = svc.hibob.read_employee(employee)
        crashpoint("after:change_read")
        if current is not None and (current["firstName"], current["surname"]) == (first, last):
            return self._synced(f"name {name} found in HiBob", candidate_name=name)
        shown = f"{current['firstName']} {current['surname']}" if current else "no such employee"
        why = f"HiBob answered 304 (not changed) to the name {name} and shows {shown}"
        return self._later(why, READ_LAG_SECONDS)

    # -- outcomes ---------------------------------------------------------------------------

    def _save(
        self, outcome: str, message: str | None = None, notify: str | None = None, **values: Any
    ) -> None:
        self.svc.ledger.change_checkpoint(
            self.change,
            self.worker,
            now=self.svc.clock(),
            outcome=outcome,
            notify=notify,
            message=f"{self.change.field}: {message}" if message else self.change.field,
            **values,
        )
        crashpoint(f"checkpoint:change:{outcome}")

    def _synced(self, message: str, **row_values: Any) -> str:
        now = self.svc.clock()
        if "start_date" in row_values:
            row_values["start_date"] = datetime.fromisoformat(row_values["start_date"]).date()
        self.svc.ledger.change_checkpoint(
            self.change,
            self.worker,
            now=now,
            outcome=ChangeAction.SYNCED,
            message=f"{self.change.field}: {message}",
            row_values=row_values,
            action=ChangeAction.SYNCED,
            synced_at=now,
            claimed_by=None,
            lease_expires_at=None,
            note=message,
        )
        crashpoint("checkpoint:change_synced")
        metrics.changes_total.labels(field=self.change.field, action=ChangeAction.SYNCED).inc()
        return ChangeAction.SYNCED

    def _end(self, action: ChangeAction, note: str) -> str:
        change = self.change
        told = None
        if action in OPEN_ACTIONS and "changed" in self.svc.notify:
            told = f"{change.field}: {change.old_value} -> {change.new_value}; {note} ({action})"
        self._save(
            action,
            note,
            notify=told,
            action=action,
            claimed_by=None,
            lease_expires_at=None,
            note=note,
        )
        metrics.changes_total.labels(field=self.change.field, action=action).inc()
        log.warning(
            "application.change_not_synced",
            application_id=self.change.application_id,
            field=self.change.field,
            action=action,
        )
        return action

    def _later(self, why: str, wait: float | None) -> str:
        cfg = self.svc.settings.worker
        attempts = self.change.attempts
        if attempts >= cfg.max_attempts:
            return self._end(
                ChangeAction.SYNC_FAILED,
                f"gave up after {attempts} attempts: {why}. Change it in HiBob by hand; "
                f"`poller ack {self.change.application_id}` when done",
            )
        delay = min(cfg.retry_base_seconds * 2 ** (attempts - 1), cfg.retry_max_seconds)
        delay = max(delay, wait or 0)
        self._save(
            "retry",
            why,
            claimed_by=None,
            lease_expires_at=None,
            next_attempt_at=self.svc.clock() + timedelta(seconds=delay),
            note=why,
        )
        return "retry"

    def _refused(self, exc: UpstreamError, what: str) -> str:
        return (
            f"{what} ({exc}). Change it in HiBob by hand; "
            f"`poller ack {self.change.application_id}` when done"
        )
