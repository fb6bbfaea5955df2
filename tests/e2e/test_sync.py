"""End to end: the poller against both simulators over loopback HTTP, on SQLite and PostgreSQL.

Assertions are on the simulators' audit (what really reached "HiBob" and "Pinpoint") and on the
ledger rows a person would inspect.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from poller.models import HireSummary
from poller.sandbox import Sandbox
from poller.sandbox.records import Attachment, Document
from tests.e2e.harness import Poller, make_poller
from tests.support.ledger import discover


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=11, hires=20) as sb:
        yield sb


@pytest.fixture
def poller(tmp_path: Path, sandbox: Sandbox, db_url: str) -> Iterator[Poller]:
    p = make_poller(tmp_path, sandbox, db_url)
    yield p
    p.close()


def _rows(p: Poller) -> dict[str, object]:
    return {r.application_id: r for r in p.ledger.rows(limit=0)}


def test_happy_batch_then_a_rerun_that_writes_nothing(sandbox: Sandbox, poller: Poller) -> None:
    hired = set(sandbox.hired_application_ids())
    assert len(hired) == 20
    poller.settle()
    rows = _rows(poller)
    # Every hire, confidential jobs and the renamed "Offer Accepted" stage included, and no
    # application from any other stage.
    assert set(rows) == hired
    states = {r.state for r in rows.values()}  # type: ignore[attr-defined]
    assert states <= {"done", "failed"}
    failed = [r for r in rows.values() if r.state == "failed"]  # type: ignore[attr-defined]
    assert len(failed) == 1  # the anonymised candidate: no email to create an employee with
    assert "email" in failed[0].last_error and failed[0].hibob_employee_id is None

    audit = sandbox.audit()
    created = audit.employees_created_per_email()
    assert all(n == 1 for n in created.values())
    assert len(created) == 18  # 20 hires - the rehire (linked) - the anonymised one
    linked = [r for r in rows.values() if r.employee_link == "linked_existing"]  # type: ignore[attr-defined]
    assert len(linked) == 1
    assert all(n == 1 for n in audit.documents_per_employee().values())
    with_cv = [r for r in rows.values() if r.cv_status in ("uploaded", "already_there")]  # type: ignore[attr-defined]
    assert len(audit.documents_per_employee()) == len(with_cv)
    assert any(r.cv_status == "none" for r in rows.values())  # type: ignore[attr-defined]
    comments = audit.comments_per_application()
    assert set(comments) == {r.application_id for r in rows.values() if r.state == "done"}  # type: ignore[attr-defined]
    assert all(n == 1 for n in comments.values())

    writes = audit.write_requests()
    result = poller.run()
    assert result.ok
    assert sandbox.audit().write_requests() == writes


def test_existing_employee_is_linked_with_and_without_their_cv(tmp_path: Path, db_url: str) -> None:
    with Sandbox(seed=3, hires=0) as sb:
        has_cv = sb.hibob.add_employee("Ada", "Lovelace", "ada@example.com")
        sb.hibob.add_document(
            has_cv,
            folder="shared",
            name="CV - Ada Lovelace.pdf",
            tags=["CV"],
            content=b"%PDF-1.4 x",
            content_type="application/pdf",
            source="upload",
        )
        sb.hibob.add_employee("Alan", "Turing", "alan@example.com")
        a = sb.pinpoint.add_hire("Ada", "Lovelace", "ADA@example.com", cv="pdf")
        b = sb.pinpoint.add_hire("Alan", "Turing", "alan@example.com", cv="pdf")
        p = make_poller(tmp_path, sb, db_url)
        try:
            p.settle()
            ra, rb = p.ledger.get(a), p.ledger.get(b)
            assert ra is not None and rb is not None
            assert (ra.state, ra.employee_link, ra.cv_status) == (
                "done",
                "linked_existing",
                "already_there",
            )
            assert (rb.state, rb.employee_link, rb.cv_status) == (
                "done",
                "linked_existing",
                "uploaded",
            )
            audit = sb.audit()
            assert audit.employees_created_per_email() == {}
            assert audit.documents_per_employee() == {rb.hibob_employee_id: 1}
            assert audit.comments_per_application() == {a: 1, b: 1}
        finally:
            p.close()


def _one_cv_synced(
    tmp_path: Path, sb: Sandbox, db_url: str, app_id: str, *, mode: str
) -> tuple[Attachment, Document]:
    """Settle one hire in ``cv.mode = mode``: (Pinpoint's attachment, HiBob's document)."""
    p = make_poller(tmp_path, sb, db_url, {"cv": {"mode": mode}})
    try:
        p.settle()
        row = p.ledger.get(app_id)
    finally:
        p.close()
    assert row is not None and (row.state, row.cv_status) == ("done", "uploaded")
    [served] = sb.pinpoint.applications[app_id].attachments
    [stored] = sb.hibob.documents_of(row.hibob_employee_id or "")
    return served, stored


@pytest.mark.parametrize("cv", ["pdf", "docx"])
def test_upload_mode_streams_the_cv_into_hibob_byte_for_byte(
    tmp_path: Path, sqlite_url: str, cv: str
) -> None:
    """cv.mode = "upload": spooled to a temporary file, sent as a streamed multipart body
    (with a Content-Length); the HiBob simulator parses it as the real API would."""
    with Sandbox(seed=13, hires=0) as sb:
        app_id = sb.pinpoint.add_hire("Grace", "Hopper", "grace@example.com", cv=cv)
        served, stored = _one_cv_synced(tmp_path, sb, sqlite_url, app_id, mode="upload")
        assert (stored.source, stored.name, stored.content_type) == (
            "upload",
            f"CV - Grace Hopper.{cv}",
            served.content_type,
        )
        assert stored.content == served.content and len(stored.content) > 100


@pytest.mark.parametrize("mode", ["url", "upload"])
def test_a_cv_with_a_non_latin_name_arrives_in_either_mode(
    tmp_path: Path, sqlite_url: str, mode: str
) -> None:
    """The file is named after the candidate: "zoë_łukasz-li_李.pdf" on Pinpoint's side."""
    with Sandbox(seed=14, hires=0) as sb:
        app_id = sb.pinpoint.add_hire("Zoë", "Łukasz-Li 李", "zoe@example.com", cv="pdf")
        served, stored = _one_cv_synced(tmp_path, sb, sqlite_url, app_id, mode=mode)
        assert served.filename == "zoë_łukasz-li_李.pdf"
        assert stored.name == "CV - Zoë Łukasz-Li 李.pdf"
        assert stored.content == served.content


def test_on_existing_employee_fail_leaves_the_row_for_review(tmp_path: Path, db_url: str) -> None:
    with Sandbox(seed=3, hires=0) as sb:
        sb.hibob.add_employee("Ada", "Lovelace", "ada@example.com")
        a = sb.pinpoint.add_hire("Ada", "Lovelace", "ada@example.com")
        p = make_poller(tmp_path, sb, db_url, {"hibob": {"on_existing_employee": "fail"}})
        try:
            p.settle()
            row = p.ledger.get(a)
            assert row is not None and row.state == "failed"
            assert "already exists" in (row.last_error or "")
            assert row.hibob_employee_id is None  # a retry asks HiBob again
            audit = sb.audit()
            assert audit.employees_created_per_email() == {}
            assert audit.comments_per_application() == {}
        finally:
            p.close()


def test_an_application_that_is_404_fails_and_the_batch_goes_on(
    sandbox: Sandbox, poller: Poller
) -> None:
    now = datetime.now(UTC)
    discover(poller.ledger, [HireSummary("404404404", now)], baseline_before=None, now=now)
    poller.settle()
    row = poller.ledger.get("404404404")
    assert row is not None and row.state == "failed"
    assert "404" in (row.last_error or "") and "404404404" in (row.last_error or "")
    assert poller.ledger.counts()["done"] == 19


def test_a_site_hibob_lacks_fails_the_row_before_any_create(tmp_path: Path, db_url: str) -> None:
    with Sandbox(seed=5, hires=0) as sb:
        job = sb.pinpoint.add_job("Designer", "Engineering", "Lisbon, Portugal")
        bad = sb.pinpoint.add_hire("Rui", "Costa", "rui@example.com", job=job)
        good = sb.pinpoint.add_hire("Ana", "Silva", "ana@example.com")
        p = make_poller(
            tmp_path, sb, db_url, {"mapping": {"site_map": {"Lisbon, Portugal": "Lisbon"}}}
        )
        try:
            p.settle()
            row = p.ledger.get(bad)
            assert row is not None and row.state == "failed" and row.attempts == 1
            error = row.last_error or ""
            assert "'Lisbon' is not in HiBob's site list" in error and "site_map" in error
            assert row.last_error_step == "map"
            assert p.ledger.get(good).state == "done"  # type: ignore[union-attr]
            assert sb.audit().employees_created_per_email() == {"ana@example.com": 1}
            assert sb.audit().requests_by_endpoint()["hibob POST /people"] == 1
        finally:
            p.close()


def test_a_create_rejected_with_a_non_duplicate_400(tmp_path: Path, db_url: str) -> None:
    with Sandbox(seed=5, hires=0) as sb:
        bad = sb.pinpoint.add_hire("Rui", "Costa", "rui@example.com")
        sb.hibob.faults.set("POST /people", error_rate="always", error_status=400, times=1)
        p = make_poller(tmp_path, sb, db_url, {"worker": {"concurrency": 1}})
        try:
            p.settle()
            row = p.ledger.get(bad)
            assert row is not None and row.state == "failed" and row.attempts == 1
            assert "HTTP 400" in (row.last_error or "") and row.last_error_step == "employee"
            assert sb.audit().employees_created_per_email() == {}
        finally:
            p.close()


def test_comment_5xx_is_retried_and_a_lost_comment_counts_once(tmp_path: Path, db_url: str) -> None:
    with Sandbox(seed=5, hires=0) as sb:
        a = sb.pinpoint.add_hire("Ana", "Silva", "ana@example.com")
        sb.pinpoint.faults.set("POST /comments", error_rate="always", times=1)
        p = make_poller(tmp_path, sb, db_url)
        try:
            first = p.run()
            assert first.ok and first.outcomes == {"retry": 1}
            row = p.ledger.get(a)
            assert row is not None and row.state == "pending" and row.hibob_employee_id
            assert "HTTP 503" in (row.last_error or "")
            p.settle()
            row = p.ledger.get(a)
            assert row is not None and row.state == "done" and row.pinpoint_comment_id
            audit = sb.audit()
            assert audit.comments_per_application() == {a: 1}
            assert audit.employees_created_per_email() == {"ana@example.com": 1}
        finally:
            p.close()


def test_comment_422_fails_the_row_with_the_upstream_message(tmp_path: Path, db_url: str) -> None:
    with Sandbox(seed=5, hires=0) as sb:
        a = sb.pinpoint.add_hire("Ana", "Silva", "ana@example.com")
        b = sb.pinpoint.add_hire("Bo", "Berg", "bo@example.com")
        sb.pinpoint.faults.set("POST /comments", error_rate="always", error_status=422, times=1)
        p = make_poller(tmp_path, sb, db_url, {"worker": {"concurrency": 1}})
        try:
            p.settle()
            rows = [p.ledger.get(a), p.ledger.get(b)]
            failed = [r for r in rows if r is not None and r.state == "failed"]
            assert len(failed) == 1 and failed[0].attempts == 1
            assert "POST /comments: HTTP 422" in (failed[0].last_error or "")
            assert failed[0].hibob_employee_id and failed[0].last_error_step == "comment"
            # The person fixes the cause; a retry posts only the comment.
            assert p.ledger.retry([failed[0].application_id], now=failed[0].updated_at, note="t")
            p.settle()
            assert {r.state for r in p.ledger.rows()} == {"done"}
            audit = sb.audit()
            assert audit.comments_per_application() == {a: 1, b: 1}
            assert sum(audit.employees_created_per_email().values()) == 2
        finally:
            p.close()


def test_lost_create_response_under_lag_adopts_exactly_one_employee(
    tmp_path: Path, db_url: str
) -> None:
    with Sandbox(seed=9, hires=0) as sb:
        sb.hibob.set_lag(5.0)
        a = sb.pinpoint.add_hire("Ana", "Silva", "ana@example.com")
        sb.hibob.faults.set("POST /people", lose_rate="always", times=1)
        p = make_poller(tmp_path, sb, db_url)
        try:
            p.settle()
            row = p.ledger.get(a)
            assert row is not None and row.state == "done"
            assert row.employee_link == "created"  # our own create, found again by email
            assert sb.audit().employees_created_per_email() == {"ana@example.com": 1}
            assert sb.audit().comments_per_application() == {a: 1}
        finally:
            p.close()
