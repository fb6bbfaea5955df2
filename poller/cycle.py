"""One poll cycle: check the store, discover hires, then work due rows with a worker pool."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime

import structlog

from poller import metrics
from poller.discovery import Discovery, DiscoveryResult
from poller.errors import CycleAborted, PollerError, StoreError
from poller.flow import Services, process
from poller.models import Outcome
from poller.notices import Notifier
from poller.redact import redact
from poller.upstream.notify import targets
from poller.watch import Watch, WatchResult

log = structlog.get_logger("poller.cycle")

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

# poller_state keys: how the last cycle ended, for `poller status` and the status page.
LAST_CYCLE_AT, LAST_CYCLE_OUTCOME, LAST_CYCLE_ERROR = (
    "last_cycle_at",
    "last_cycle_outcome",
    "last_cycle_error",
)


@dataclass
class CycleResult:
    cycle_id: str
    ok: bool
    started_at: str
    duration_s: float = 0.0
    discovery: DiscoveryResult | None = None
    outcomes: dict[str, int] = field(default_factory=dict)
    watch: WatchResult | None = None
    synced: dict[str, int] = field(default_factory=dict)  # change writes to HiBob, by outcome
    notified: dict[str, int] = field(default_factory=dict)  # messages, by outcome
    error: str | None = None
    stopped_early: bool = False

    def summary(self) -> dict[str, object]:
        data = asdict(self)
        data["event"] = "cycle.summary"
        data["outcome"] = "ok" if self.ok else "error"
        return data


class Cycle:
    """Runs cycles for one process; keeps the stage cache and filter support between them."""

    def __init__(self, svc: Services, stop: threading.Event | None = None) -> None:
        self.svc = svc
        self.stop = stop or threading.Event()
        self.discovery = Discovery(svc.settings, svc.pinpoint, svc.ledger, svc.notify)
        self.watch = Watch(svc, f"{PROCESS_ID}/changes")
        self.notifier = Notifier(
            svc.ledger,
            targets(svc.settings.notify_targets()),
            worker=PROCESS_ID,
            clock=svc.clock,
            public_url=svc.settings.web.public_url,
            lease_seconds=svc.settings.worker.lease_seconds,
        )

    def run(self, *, backfill_since: datetime | None = None) -> CycleResult:
        cycle_id = uuid.uuid4().hex[:12]
        structlog.contextvars.bind_contextvars(cycle_id=cycle_id)
        started = time.monotonic()
        now = self.svc.clock()
        result = CycleResult(cycle_id=cycle_id, ok=False, started_at=now.isoformat())
        try:
            self.svc.ledger.ping()
            result.discovery = self.discovery.run(now=now, backfill_override=backfill_since)
            result.watch = self.watch.observe(
                self.discovery.listed, full=self.discovery.listed_all, now=now
            )
            result.outcomes = self._work(cycle_id)
            result.synced = self.watch.sync(stop=self.stop)
            result.notified = self._notify()
            result.stopped_early = self.stop.is_set()
            result.ok = True
        except CycleAborted as exc:
            result.error = str(exc.cause)
        except PollerError as exc:  # store outage, bad credentials, a listing that failed
            result.error = str(exc)
        finally:
            structlog.contextvars.unbind_contextvars("cycle_id")
        result.duration_s = round(time.monotonic() - started, 3)
        self._record_metrics(result)
        self._record_outcome(result)
        level = log.info if result.ok else log.error
        level(
            "cycle.finished",
            cycle_id=cycle_id,
            ok=result.ok,
            error=result.error,
            duration_s=result.duration_s,
            outcomes=result.outcomes,
        )
        return result

    def _work(self, cycle_id: str) -> dict[str, int]:
        """Claim and process due rows until none are left, or a stop is asked for."""
        cfg = self.svc.settings.worker
        outcomes: dict[str, int] = {}
        # Rows rescheduled (or lost) in this cycle wait for the next one. Finished rows aren't
        # due any more, so they leave the set: it stays small however big the backlog.
        seen: set[str] = set()
        lock = threading.Lock()
        abort: list[CycleAborted] = []

        def worker(index: int) -> None:
            # Context variables don't follow work into pool threads: bind the cycle here.
            structlog.contextvars.bind_contextvars(cycle_id=cycle_id)
            name = f"{PROCESS_ID}/{index}"
            while not self.stop.is_set() and not abort:
                with lock:
                    exclude = list(seen)
                rec = self.svc.ledger.claim_next(
                    name, lease_seconds=cfg.lease_seconds, now=self.svc.clock(), exclude=exclude
                )
                if rec is None:
                    return
                with lock:
                    seen.add(rec.application_id)
                try:
                    outcome = process(self.svc, rec, name)
                except CycleAborted as exc:
                    abort.append(exc)
                    return
                with lock:
                    outcomes[str(outcome)] = outcomes.get(str(outcome), 0) + 1  # plain text keys
                    if outcome in (Outcome.DONE, Outcome.FAILED, Outcome.WITHDRAWN):
                        seen.discard(rec.application_id)

        workers = max(1, cfg.concurrency)
        with ThreadPoolExecutor(workers, thread_name_prefix="poller-worker") as pool:
            futures = [pool.submit(worker, i) for i in range(workers)]
            errors = [f.exception() for f in futures]
        if abort:
            raise abort[0]
        for err in errors:
            if err is not None:  # StoreError from a claim, or a bug in the pool itself
                raise err
        return outcomes

    def _notify(self) -> dict[str, int]:
        """After the cycle's work: a target that is down, or a store that fails just now,
        delays the messages, never a hire, and doesn't fail the cycle."""
        try:
            return self.notifier.deliver()
        except StoreError as exc:
            log.warning("notify.deferred", error=str(exc))
            return {"deferred": 1}

    def _record_outcome(self, result: CycleResult) -> None:
        """One short upsert; a store that is down (often why the cycle failed) only warns."""
        try:
            self.svc.ledger.set_state(
                {
                    LAST_CYCLE_AT: self.svc.clock().isoformat(),
                    LAST_CYCLE_OUTCOME: "ok" if result.ok else "error",
                    # Already safe to log; redacted again since it is stored and shown.
                    LAST_CYCLE_ERROR: redact(result.error or "")[:500],
                }
            )
        except StoreError:
            log.warning("cycle.outcome_not_recorded", cycle_id=result.cycle_id)

    def _record_metrics(self, result: CycleResult) -> None:
        metrics.cycles_total.labels(outcome="ok" if result.ok else "error").inc()
        metrics.cycle_duration_seconds.observe(result.duration_s)
        if result.ok:
            metrics.last_successful_cycle.set(time.time())
            try:
                refresh_state_metrics(self.svc)
            except StoreError:
                log.warning("metrics.state_unavailable")


def refresh_state_metrics(svc: Services) -> None:
    for state, n in svc.ledger.counts().items():
        metrics.applications.labels(state=state).set(n)
    oldest = svc.ledger.oldest_pending()
    age = (svc.clock() - oldest).total_seconds() if oldest else 0.0
    metrics.oldest_pending_age.set(max(0.0, age))
    metrics.unhired_flags.set(svc.ledger.unhired_count())
    open_changes, oldest_change = svc.ledger.open_changes()
    metrics.change_flags.set(open_changes)
    change_age = (svc.clock() - oldest_change).total_seconds() if oldest_change else 0.0
    metrics.oldest_open_change_age.set(max(0.0, change_age))
