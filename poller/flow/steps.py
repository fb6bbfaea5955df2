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

import time
from typing import Any
from urllib.parse import urlsplit

import structlog

from poller import changes, metrics
from poller.crashpoints import crashpoint
from poller.cv import check_cv_url, document_name, pick_cv
from poller.errors import (
    EMPTY_BODY,
    HTML_BODY,
    CVRejected,
    CycleAborted,
    EmailAlreadyExists,
    InvalidResponse,
    LeaseLost,
    MappingError,
    NotFound,
    PermanentError,
    Reaction,
    RetryableError,
    StoreError,
    reaction,
)
from poller.flow.row import Row, fail, release, reschedule
from poller.hosts import is_loopback_host
from poller.mapping import build_employee, clean, comment_text
from poller.models import HIRED, Application, CVStatus, EmployeeLink, Outcome, Record, State
from poller.redact import redact
from poller.services import Services

log = structlog.get_logger("poller.sync")


def process(svc: Services, rec: Record, worker: str) -> Outcome:
    """Work one claimed row as far as it goes.

    Raises CycleAborted for failures that concern every row (bad credentials, the store).
    """
    row = Row(svc, rec, worker)
    started = time.monotonic()
    structlog.contextvars.bind_contextvars(application_id=row.id)
    try:
        outcome = _settle(row)
    except LeaseLost:  # from a step's checkpoint, or while recording its failure
        log.warning("application.lease_lost", application_id=row.id, step=row.step)
        outcome = Outcome.LOST
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


def _settle(row: Row) -> Outcome:
    """Run the steps, and record what became of the row whatever escapes them, as
    ``poller.errors.reaction`` says."""
    try:
        return _run_steps(row)
    except Exception as exc:
        how = reaction(exc)
        if how in (Reaction.LET_GO, Reaction.STOP_PROCESS) or isinstance(exc, StoreError):
            raise  # nothing more to write here (or nothing can be written)
        if how is Reaction.STOP_CYCLE:
            release(row, exc)
            raise CycleAborted(exc) from None
        if how is Reaction.RESCHEDULE:
            if not isinstance(exc, RetryableError | InvalidResponse):  # a bug: the row says so
                log.exception("application.unexpected_error", application_id=row.id, step=row.step)
            return reschedule(row, exc)
        # FAIL_ROW; and SKIP_CV, which only the CV step can act on: out of any other, it fails.
        return _fail_for(row, exc)


def _fail_for(row: Row, exc: Exception) -> Outcome:
    if isinstance(exc, MappingError):
        return fail(row, f"cannot map application {row.id}: {exc}", error_step="map")
    if isinstance(exc, NotFound):
        what = "application" if exc.api == "pinpoint" else "resource"
        return fail(row, f"{what} not found upstream (application {row.id}): {exc}")
    extra = {"create_started_at": None} if row.step == "employee" else {}
    return fail(row, f"application {row.id}, step {row.step}: {exc}", **extra)


def _run_steps(row: Row) -> Outcome:
    svc, rec = row.svc, row.rec
    employee_id, link = rec.hibob_employee_id, rec.employee_link
    fresh = False  # created by a 200 in this very attempt: it can hold no documents yet
    if employee_id is None:
        app = _application(row)
        if app.stage_basic_type is not None and app.stage_basic_type != HIRED:
            return _withdrawn(row, app)  # the re-check: no longer hired, nothing written yet
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
            watched=changes.dump(changes.watched_values(app, svc.settings.mapping)),
        )
        row.step = "employee"
        employee_id, link, fresh = _link_employee(row, payload.body, payload.email, notes)
        if (
            link == EmployeeLink.LINKED_EXISTING
            and svc.settings.hibob.on_existing_employee == "fail"
        ):
            return fail(
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
        values["pinpoint_comment_id"] = _comment(row, employee_id, link or EmployeeLink.CREATED)

    if cv_status == CVStatus.SKIPPED:
        message = (
            f"application {row.id}: employee {employee_id} and the Pinpoint comment are done, "
            f"but the CV was skipped: {cv_error or rec.last_error or 'see history'}. Attach it by "
            "hand and `poller resolve`, or fix the cause and `poller retry`"
        )
        metrics.hires_total.labels(outcome=Outcome.FAILED).inc()
        row.end(
            State.FAILED,
            "cv_skipped",
            message,
            notify=row.notice("failed", redact(message)),
            last_error=message,
            last_error_step="cv",
            **values,
        )
        return Outcome.FAILED
    done = f"in HiBob as employee {employee_id} ({link or EmployeeLink.CREATED}), CV {cv_status}"
    row.end(
        State.DONE,
        "done",
        None,
        notify=row.notice("done", done),
        last_error=None,
        last_error_step=None,
        **values,
    )
    metrics.hires_total.labels(outcome=link or EmployeeLink.CREATED).inc()  # once, at the end
    return Outcome.DONE


def _comment(row: Row, employee_id: str, link: str) -> str:
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


def _withdrawn(row: Row, app: Application) -> Outcome:
    """The application left its hired stage before any write (a mis-click, a withdrawn
    offer): nothing is written anywhere, and a listing that finds it hired again brings it
    back."""
    stage = clean(app.stage_name or app.stage_basic_type or "", 200)
    log.info("application.withdrawn", application_id=row.id, stage=stage)
    row.end(
        State.WITHDRAWN,
        "withdrawn",
        f"no longer in a hired stage ({stage}) when fetched, before anything was written; it "
        "is picked up again if it comes back to a hired stage",
        withdrawn_stage=stage,
        candidate_name=_name(app),
        last_error=None,
        last_error_step=None,
    )
    return Outcome.WITHDRAWN


def _application(row: Row) -> Application:
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
    row: Row, body: dict[str, Any], email: str, notes: list[str]
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
        return employee_id, EmployeeLink.CREATED, True
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
        return found, EmployeeLink.CREATED if ours_before else EmployeeLink.LINKED_EXISTING, False


def _create(row: Row, body: dict[str, Any], email: str, notes: list[str]) -> str:
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
                    api=exc.api,
                    endpoint=exc.endpoint,
                    status=400,
                ) from None
            raise
        text = f"{exc.key or ''} {exc.message}".casefold()
        work = dict(body.get("work") or {})
        dropped = [
            name
            for name, policy in (
                ("title", cfg.on_unknown_title),
                ("department", cfg.on_unknown_department),
            )
            if policy == "omit" and name in work and name in text
        ]
        if not dropped:
            raise
        reason = exc.message
    for name in dropped:
        notes.append(f"work.{name} {work.pop(name)!r} left out: HiBob refused it ({reason})")
    row.save("employee", "create_retry", "; ".join(notes), mapping_notes="; ".join(notes))
    return svc.hibob.create_employee({**body, "work": work})


def _find_by_email(row: Row, email: str) -> str | None:
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


def _attach_cv(row: Row, employee_id: str, *, fresh: bool) -> tuple[str, str | None, str | None]:
    """Returns (cv_status, document id, why skipped).

    Any employee not created in this very attempt (adopted, found again after a lost answer,
    or resumed) may already hold the CV, so their documents are listed first.
    """
    svc, cfg = row.svc, row.svc.settings
    app = _application(row)
    attachment = pick_cv(app.attachments)
    if attachment is None:
        return CVStatus.NONE, None, None
    row.step = "cv"
    name = document_name(app, attachment)
    if not fresh:
        row.flush()
        documents = svc.hibob.list_documents(employee_id)
        crashpoint("after:doc_list")
        for doc in documents:
            if doc.name.strip().casefold() == name.strip().casefold():
                return CVStatus.ALREADY_THERE, doc.id, None
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
        return CVStatus.SKIPPED, None, str(exc)
    except NotFound:
        raise
    except PermanentError as exc:  # HiBob refused the document (type, size, unreachable link)
        return CVStatus.SKIPPED, None, str(exc)
    return CVStatus.UPLOADED, doc_id, None
