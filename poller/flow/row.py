"""A claimed row: its checkpoints (committed, or deferred to the next commit) and its ends.

Every write is fenced on this worker's claim (``Ledger.checkpoint``), and error text is
redacted before it reaches the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog

from poller import metrics
from poller.crashpoints import crashpoint
from poller.errors import LeaseLost, RateLimited, StoreError, UpstreamError
from poller.models import FINAL_STATES, Application, Outcome, Record, State
from poller.redact import redact
from poller.services import Services

log = structlog.get_logger("poller.sync")

MAX_ERROR_CHARS = 2000
# Checkpoint outcomes that record an intent, committed just before the outside call.
INTENTS = frozenset({"create_started", "started"})


@dataclass
class Row:
    svc: Services
    rec: Record
    worker: str
    step: str = "fetch"
    app: Application | None = None
    # Checkpoints deferred to the next commit: (step, outcome, message) lines and values.
    _lines: list[tuple[str, str, str | None]] = field(default_factory=list)
    _values: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.rec.application_id

    def defer(self, step: str, outcome: str, message: str | None = None, **values: Any) -> None:
        """A checkpoint that rides on the next commit. Only for progress that is followed by
        another checkpoint before any outside call: ``flush`` guards the calls that aren't."""
        self._lines.append((step, outcome, redact(message) if message else message))
        self._values.update(values)

    def flush(self) -> None:
        """Commit deferred checkpoints, if any, before an outside call."""
        if self._lines:
            step, outcome, message = self._lines.pop()
            self.save(step, outcome, message)

    def save(
        self,
        step: str,
        outcome: str,
        message: str | None = None,
        *,
        renew: bool = True,
        notify: tuple[str, str | None] | None = None,
        **values: Any,
    ) -> None:
        """Commit progress (renewing the lease), fenced on this worker's claim."""
        # Error text reaches the table and `poller show`: mask secrets and signed-URL queries.
        message = redact(message) if message else message
        if values.get("last_error"):
            values["last_error"] = redact(values["last_error"])
        earlier, self._lines = self._lines, []
        values = {**self._values, **values}
        self._values = {}
        self.svc.ledger.checkpoint(
            self.id,
            self.worker,
            step=step,
            outcome=outcome,
            message=message,
            lease_seconds=self.svc.settings.worker.lease_seconds if renew else None,
            now=self.svc.clock(),
            attempt=self.rec.attempts,
            history=earlier,
            notify=notify,
            **values,
        )
        for line_step, line_outcome, _ in (*earlier, (step, outcome, message)):
            crashpoint(f"checkpoint:{line_step}:{line_outcome}")
            # An intent ("about to create", "about to post") is followed at once by the
            # request's own INFO line, and kept in the row's history: DEBUG is enough.
            emit = log.debug if line_outcome in INTENTS else log.info
            emit("application.step", application_id=self.id, step=line_step, outcome=line_outcome)

    def notice(self, event: str, summary: str | None) -> tuple[str, str | None] | None:
        """An event for the people who act, if they are told of this kind."""
        return (event, summary) if event in self.svc.notify else None

    def end(
        self,
        state: State,
        outcome: str,
        message: str | None,
        *,
        notify: tuple[str, str | None] | None = None,
        **values: Any,
    ) -> None:
        """Leave the row in `state`, unclaimed. The same commit as the step's checkpoint
        (and as the event ``notify`` makes, if any)."""
        final: dict[str, Any] = {
            "state": state,
            "claimed_by": None,
            "lease_expires_at": None,
            "next_attempt_at": None,
            "completed_at": self.svc.clock() if state in FINAL_STATES else None,
        }
        final.update(values)
        self.save(self.step, outcome, message, renew=False, notify=notify, **final)


def fail(row: Row, message: str, error_step: str | None = None, **values: Any) -> Outcome:
    message = message[:MAX_ERROR_CHARS]
    metrics.hires_total.labels(outcome=Outcome.FAILED).inc()
    log.warning("application.failed", application_id=row.id, step=row.step, error=message)
    row.end(
        State.FAILED,
        "failed",
        message,
        notify=row.notice("failed", redact(message)),
        last_error=message,
        last_error_step=error_step or row.step,
        **values,
    )
    return Outcome.FAILED


def reschedule(row: Row, exc: Exception) -> Outcome:
    svc, cfg = row.svc, row.svc.settings.worker
    text = str(exc) if isinstance(exc, UpstreamError) else f"{type(exc).__name__}: {exc}"
    text = f"application {row.id}, step {row.step}: {text}"[:MAX_ERROR_CHARS]
    attempts = row.rec.attempts
    if attempts >= cfg.max_attempts:
        return fail(row, f"gave up after {attempts} attempts; last error: {text}")
    wait = min(cfg.retry_base_seconds * 2 ** (attempts - 1), cfg.retry_max_seconds)
    wait *= svc.rng.uniform(0.8, 1.2)
    if isinstance(exc, RateLimited) and exc.retry_after:
        wait = max(wait, exc.retry_after)
    log.info("application.retry_later", application_id=row.id, step=row.step, wait_s=round(wait))
    row.end(
        State.PENDING,
        "retry",
        text,
        last_error=text,
        last_error_step=row.step,
        next_attempt_at=svc.clock() + timedelta(seconds=wait),
    )
    return Outcome.RETRY


def release(row: Row, exc: Exception) -> None:
    if isinstance(exc, StoreError):
        return  # nothing can be written; the lease expires and another run takes the row
    try:
        row.svc.ledger.release(row.id, row.worker, now=row.svc.clock(), note=str(exc)[:500])
    except (StoreError, LeaseLost):
        log.warning("application.release_failed", application_id=row.id)
