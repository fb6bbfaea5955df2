"""One application, step by step: fetch+map → employee → CV → comment → done.

Each outside call's result is committed (``Ledger.checkpoint``) before the next outside call,
so a crash can only happen inside one step, and each step is written to be safe to run again.
Checkpoints with no outside call between them share one commit (``_Row.defer``): a fresh hire
costs five commits, not eight.

- employee: a create that may have landed is found again by email (HiBob keeps emails
  unique), waiting out HiBob's read-after-write lag; ``create_started_at`` tells our own
  earlier create apart from a person who was already in HiBob;
- CV: after an interrupted upload (``cv_started_at``) or when adopting an employee, the
  employee's documents are listed first and a CV with the same name counts as done;
- comment: ``comment_started_at`` records the intent before the post. After an attempt whose
  outcome is unknown (a crash before the checkpoint, a timeout, a lost answer), the
  application's comments are listed first and one carrying this employee's id is adopted.

No HTTP or SQL details here: the clients and the ledger translate theirs into poller.errors.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import structlog

from poller import metrics
from poller.config import Settings
from poller.crashpoints import crashpoint
from poller.cv import check_cv_url, document_name, pick_cv
from poller.errors import (
    EMPTY_BODY,
    HTML_BODY,
    AuthError,
    CVRejected,
    EmailAlreadyExists,
    InvalidResponse,
    MappingError,
    NotFound,
    PermanentError,
    RateLimited,
    RetryableError,
    StoreError,
    UpstreamError,
)
from poller.hosts import is_loopback_host
from poller.mapping import build_employee, clean, comment_text
from poller.models import Application
from poller.redact import redact
from poller.store.ledger import LeaseLost, Ledger, Record, utcnow
from poller.upstream.cv_download import CVDownloader
from poller.upstream.hibob import HibobClient
from poller.upstream.hibob_lists import HibobLists
from poller.upstream.pinpoint import PinpointClient

log = structlog.get_logger("poller.sync")

MAX_ERROR_CHARS = 2000


@dataclass
class Services:
    """Everything the flow talks to. Built once per process by ``poller.wiring``."""

    settings: Settings
    ledger: Ledger
    pinpoint: PinpointClient
    hibob: HibobClient
    cv_downloader: CVDownloader
    lists: HibobLists
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)


class CycleAborted(Exception):
    """Raised out of the worker pool when the whole cycle must stop (credentials, store)."""

    def __init__(self, cause: Exception) -> None:
        self.cause = cause
        super().__init__(str(cause))


@dataclass
class _Row:
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
            **values,
        )
        for line_step, line_outcome, _ in (*earlier, (step, outcome, message)):
            crashpoint(f"checkpoint:{line_step}:{line_outcome}")
            log.info(
                "application.step", application_id=self.id, step=line_step, outcome=line_outcome
            )

    def end(self, state: str, outcome: str, message: str | None, **values: Any) -> None:
        """Leave the row in `state`, unclaimed. The same commit as the step's checkpoint."""
        final: dict[str, Any] = {
            "state": state,
            "claimed_by": None,
            "lease_expires_at": None,
            "next_attempt_at": None,
            "completed_at": self.svc.clock() if state in ("done", "failed") else None,
        }
        final.update(values)
        self.save(self.step, outcome, message, renew=False, **final)


def process(svc: Services, rec: Record, worker: str) -> str:
    """Work one claimed row as far as it goes. Returns done, failed, retry or lost.

    Raises CycleAborted for failures that concern every row (bad credentials, the store).
    """
    row = _Row(svc, rec, worker)
    started = time.monotonic()
    structlog.contextvars.bind_contextvars(application_id=row.id)
    try:
        outcome = _settle(row)
    except LeaseLost:  # from a step's checkpoint, or while recording its failure
        log.warning("application.lease_lost", application_id=row.id, step=row.step)
        outcome = "lost"
    except StoreError as exc:
        raise CycleAborted(exc) from None
    finally:
        structlog.contextvars.unbind_contextvars("application_id")
    log.info(
        "application.finished",
        application_id=row.id,
        step=row.step,
        outcome=outcome,
        duration_ms=round((time.monotonic() - started) * 1000),
    )
    return outcome


def _settle(row: _Row) -> str:
    """Run the steps, and record what became of the row whatever happens."""
    try:
        return _run_steps(row)
    except (LeaseLost, StoreError):
        raise
    except AuthError as exc:
        _release(row, exc)
        raise CycleAborted(exc) from None
    except MappingError as exc:
        return _fail(row, f"cannot map application {row.id}: {exc}", error_step="map")
    except NotFound as exc:
        what = "application" if exc.api == "pinpoint" else "resource"
        return _fail(row, f"{what} not found upstream (application {row.id}): {exc}")
    except (RetryableError, InvalidResponse) as exc:
        return _reschedule(row, exc)
    except PermanentError as exc:
        extra = {"create_started_at": None} if row.step == "employee" else {}
        return _fail(row, f"application {row.id}, step {row.step}: {exc}", **extra)
    except Exception as exc:  # a bug must not stop the batch; the row records it
        log.exception("application.unexpected_error", application_id=row.id, step=row.step)
        return _reschedule(row, exc)


def _run_steps(row: _Row) -> str:
    svc, rec = row.svc, row.rec
    employee_id, link = rec.hibob_employee_id, rec.employee_link
    fresh = False  # created by a 200 in this very attempt: it can hold no documents yet
    if employee_id is None:
        app = _application(row)
        row.step = "map"
        payload = build_employee(
            app, svc.settings.mapping, today=svc.clock().date(), hibob_lists=svc.lists.get()
        )
        notes = list(payload.notes)
        row.defer(  # committed with create_started, just before the create
            "map",
            "mapped",
            "; ".join(notes) or None,
            candidate_name=_name(app),
            email=payload.email,
            pinpoint_updated_at=app.updated_at,
            start_date=payload.start_date,
            start_date_source=payload.start_source,
            mapping_notes="; ".join(notes) or None,
        )
        row.step = "employee"
        employee_id, link, fresh = _link_employee(row, payload.body, payload.email, notes)
        if link == "linked_existing" and svc.settings.hibob.on_existing_employee == "fail":
            return _fail(
                row,
                f"application {row.id}: an employee with email {payload.email} already exists "
                f"in HiBob (id {employee_id}) and hibob.on_existing_employee = 'fail'. Check "
                "it is the same person, then `poller resolve`, or set 'link' and `poller retry`",
                create_started_at=None,
            )
        # Committed with the CV step's first checkpoint, before its first outside call.
        row.defer("employee", link, hibob_employee_id=employee_id, employee_link=link)

    cv_status, cv_error = rec.cv_status, None
    if cv_status is None:
        row.step = "cv"
        cv_status, doc_id, cv_error = _attach_cv(row, employee_id, fresh=fresh)
        # Committed with comment_started (or the end), before the comment is posted.
        row.defer("cv", cv_status, cv_error, cv_status=cv_status, cv_document_id=doc_id)

    row.step = "comment"
    values: dict[str, Any] = {}
    if rec.pinpoint_comment_id is None:
        values["pinpoint_comment_id"] = _comment(row, employee_id, link or "created")

    if cv_status == "skipped":
        message = (
            f"application {row.id}: employee {employee_id} and the Pinpoint comment are done, "
            f"but the CV was skipped: {cv_error or rec.last_error or 'see history'}. Attach it by "
            "hand and `poller resolve`, or fix the cause and `poller retry`"
        )
        metrics.hires_total.labels(outcome="failed").inc()
        row.end("failed", "cv_skipped", message, last_error=message, last_error_step="cv", **values)
        return "failed"
    row.end("done", "done", None, last_error=None, last_error_step=None, **values)
    metrics.hires_total.labels(outcome=link or "created").inc()  # once, at the hire's end
    return "done"


def _comment(row: _Row, employee_id: str, link: str) -> str:
    """Post the comment, once. After an attempt that may have posted it, look first."""
    svc = row.svc
    if row.rec.comment_started_at is not None:
        row.flush()
        found = svc.pinpoint.find_comment(row.id, employee_id)
        crashpoint("after:comment_list")
        if found is not None:
            log.info("comment.adopted", application_id=row.id, comment_id=found)
            row.defer("comment", "adopted", f"comment {found} was already posted")
            return found
    row.save("comment", "started", comment_started_at=svc.clock())
    first, last = (row.app.first_name, row.app.last_name) if row.app else (None, None)
    comment_id = svc.pinpoint.post_comment(row.id, comment_text(employee_id, link, first, last))
    crashpoint("after:comment")
    return comment_id


def _application(row: _Row) -> Application:
    if row.app is None:
        row.flush()
        row.step = "fetch"
        row.app = row.svc.pinpoint.get_application(row.id)
        crashpoint("after:fetch")
    return row.app


def _name(app: Application) -> str | None:
    # Shown to operators by `poller list/show`: no terminal escapes or control characters.
    name = clean(" ".join(p for p in (app.first_name, app.last_name) if p), 300)
    return name or None


def _link_employee(
    row: _Row, body: dict[str, Any], email: str, notes: list[str]
) -> tuple[str, str, bool]:
    """Create the employee, or find the one that already has this email.

    A 5xx or a timeout may hide a create that landed. It isn't retried in place: the error
    reschedules the row, and the next attempt's create either succeeds or meets "email already
    exists", which the create_started_at marker shows to be our own. By then HiBob's
    read-after-write lag has passed, so no worker waits it out.
    """
    svc = row.svc
    ours_before = row.rec.create_started_at is not None
    row.save("employee", "create_started", create_started_at=svc.clock())
    try:
        employee_id = _create(row, body, email, notes)
        crashpoint("after:create")
        return employee_id, "created", True
    except EmailAlreadyExists:
        if not ours_before:
            # HiBob had this email before our first create: remember that, so a rerun after a
            # crash here still links rather than claiming the employee as our own.
            row.save("employee", "exists", create_started_at=None)
        # Either our own earlier create (it landed, then we crashed or lost the answer), or
        # a person already in HiBob: a rehire, or HR was quicker.
        found = _find_by_email(row, email)
        if found is None:
            raise RetryableError(
                f"HiBob says {email} exists, but search did not find it within "
                f"{svc.settings.hibob.lookup_wait_seconds}s (read-after-write lag)",
                api="hibob",
                endpoint="POST /people/search",
            ) from None
        return found, "created" if ours_before else "linked_existing", False


def _create(row: _Row, body: dict[str, Any], email: str, notes: list[str]) -> str:
    """POST /people. A 400 created nothing, so it is safe to act on:

    - one that names the title or department (a list HiBob changed since it was read, or
      couldn't be read) is sent again without it, when the config says to leave such values
      out;
    - one with no key and no words (an empty or HTML body) may hide "email already exists":
      one search by email tells.
    """
    svc, cfg = row.svc, row.svc.settings.mapping
    try:
        return svc.hibob.create_employee(body)
    except EmailAlreadyExists:
        raise
    except PermanentError as exc:
        if exc.status != 400:
            raise
        if exc.key is None and exc.message in (EMPTY_BODY, HTML_BODY):
            row.flush()
            if svc.hibob.find_by_email(email) is not None:
                raise EmailAlreadyExists(
                    f"{exc.message}, and an employee with email {email} exists",
                    api=exc.api, endpoint=exc.endpoint, status=400,
                ) from None
            raise
        text = f"{exc.key or ''} {exc.message}".casefold()
        work = dict(body.get("work") or {})
        dropped = [
            name
            for name, policy in (("title", cfg.on_unknown_title),
                                 ("department", cfg.on_unknown_department))
            if policy == "omit" and name in work and name in text
        ]
        if not dropped:
            raise
        reason = exc.message
    for name in dropped:
        notes.append(f"work.{name} {work.pop(name)!r} left out: HiBob refused it ({reason})")
    row.save("employee", "create_retry", "; ".join(notes), mapping_notes="; ".join(notes))
    return svc.hibob.create_employee({**body, "work": work})


def _find_by_email(row: _Row, email: str) -> str | None:
    """Search by email, retrying across HiBob's read-after-write lag (bounded)."""
    svc = row.svc
    deadline = time.monotonic() + svc.settings.hibob.lookup_wait_seconds
    row.flush()
    while True:
        found = svc.hibob.find_by_email(email)
        crashpoint("after:search")
        if found is not None or time.monotonic() >= deadline:
            return found
        svc.sleep(svc.settings.hibob.lookup_interval_seconds)


def _attach_cv(row: _Row, employee_id: str, *, fresh: bool) -> tuple[str, str | None, str | None]:
    """Returns (cv_status, document id, why skipped).

    Any employee not created in this very attempt (adopted, found again after a lost answer,
    or resumed) may already hold the CV, so their documents are listed first.
    """
    svc, cfg = row.svc, row.svc.settings
    app = _application(row)
    attachment = pick_cv(app.attachments)
    if attachment is None:
        return "none", None, None
    row.step = "cv"
    name = document_name(app, attachment)
    if not fresh:
        row.flush()
        documents = svc.hibob.list_documents(employee_id)
        crashpoint("after:doc_list")
        for doc in documents:
            if doc.name.strip().casefold() == name.strip().casefold():
                return "already_there", doc.id, None
    pinpoint_url = urlsplit(cfg.pinpoint.base_url)
    origin = f"{pinpoint_url.scheme}://{pinpoint_url.netloc}"
    sandbox = is_loopback_host(pinpoint_url.hostname or "")

    def check(url: str) -> None:
        check_cv_url(
            url, allowed_hosts=cfg.cv.allowed_hosts, pinpoint_origin=origin, allow_loopback=sandbox
        )

    try:
        check(attachment.url)
        row.save("cv", "started", cv_started_at=svc.clock())
        if cfg.cv.mode == "upload":
            with svc.cv_downloader.download(
                attachment.url, max_bytes=cfg.cv.max_bytes, check=check
            ) as cv_file:  # spooled to a temporary file, removed when the block ends
                doc_id = svc.hibob.upload_document_file(
                    employee_id, name, cv_file.file, cv_file.content_type
                )
        else:
            doc_id = svc.hibob.upload_document_url(
                employee_id, name, attachment.url, cfg.hibob.document_tags
            )
        crashpoint("after:doc_upload")
    except CVRejected as exc:
        return "skipped", None, str(exc)
    except (AuthError, NotFound, InvalidResponse):
        raise
    except PermanentError as exc:  # HiBob refused the document (type, size, unreachable link)
        return "skipped", None, str(exc)
    return "uploaded", doc_id, None


def _fail(row: _Row, message: str, error_step: str | None = None, **values: Any) -> str:
    message = message[:MAX_ERROR_CHARS]
    metrics.hires_total.labels(outcome="failed").inc()
    log.warning("application.failed", application_id=row.id, step=row.step, error=message)
    row.end(
        "failed",
        "failed",
        message,
        last_error=message,
        last_error_step=error_step or row.step,
        **values,
    )
    return "failed"


def _reschedule(row: _Row, exc: Exception) -> str:
    svc, cfg = row.svc, row.svc.settings.worker
    text = str(exc) if isinstance(exc, UpstreamError) else f"{type(exc).__name__}: {exc}"
    text = f"application {row.id}, step {row.step}: {text}"[:MAX_ERROR_CHARS]
    attempts = row.rec.attempts
    if attempts >= cfg.max_attempts:
        return _fail(row, f"gave up after {attempts} attempts; last error: {text}")
    wait = min(cfg.retry_base_seconds * 2 ** (attempts - 1), cfg.retry_max_seconds)
    wait *= svc.rng.uniform(0.8, 1.2)
    if isinstance(exc, RateLimited) and exc.retry_after:
        wait = max(wait, exc.retry_after)
    log.info("application.retry_later", application_id=row.id, step=row.step, wait_s=round(wait))
    row.end(
        "pending",
        "retry",
        text,
        last_error=text,
        last_error_step=row.step,
        next_attempt_at=svc.clock() + timedelta(seconds=wait),
    )
    return "retry"


def _release(row: _Row, exc: Exception) -> None:
    if isinstance(exc, StoreError):
        return  # nothing can be written; the lease expires and another run takes the row
    try:
        row.svc.ledger.release(row.id, row.worker, now=row.svc.clock(), note=str(exc)[:500])
    except (StoreError, LeaseLost):
        log.warning("application.release_failed", application_id=row.id)
