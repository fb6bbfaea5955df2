"""CV links end to end: every crafted or mangled link is refused before use, the employee
and the comment still happen, the row says why the CV was skipped, and `poller retry`
redoes only the CV.

The Pinpoint simulator always issues its own signed links, so crafted links are swapped in
by a test-side wrapper (helpers.CVLinks); a small loopback "storage host" plays the CV host
that redirects or serves the wrong thing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from poller.models import Record
from poller.sandbox import Sandbox
from poller.sandbox.files import pdf_bytes
from tests.e2e.harness import Poller, make_poller
from tests.security.helpers import (
    CVLinks,
    answer,
    chunked,
    redirect,
    run_poller,
    storage_host,
)

# (what, crafted link, the reason the row must give)
CRAFTED = [
    (
        "host off the allowlist",
        "https://cv-files.evil.example/cv.pdf?X-Amz-Signature=aa11",
        "is not in cv.allowed_hosts",
    ),
    (
        "allowlisted name as a prefix",
        "https://acme.pinpointhq.com.evil.example/cv.pdf",
        "is not in cv.allowed_hosts",
    ),
    (
        "allowlisted name without the dot",
        "https://evilpinpointhq.com/cv.pdf",
        "is not in cv.allowed_hosts",
    ),
    ("private IP literal", "https://10.20.30.40/cv.pdf?sig=bb22", "non-public address"),
    ("link-local metadata IP", "https://169.254.169.254/latest/meta-data/", "non-public address"),
    ("IPv4-mapped private IPv6", "https://[::ffff:192.168.1.10]/cv.pdf", "non-public address"),
    (
        "plain http to an allowlisted host",
        "http://acme.pinpointhq.com/cv.pdf?sig=cc33",
        "is not https",
    ),
    ("ftp", "ftp://acme.pinpointhq.com/cv.pdf", "is not https"),
    ("user info in the link", "https://user:pw@acme.pinpointhq.com/cv.pdf", "credentials"),
    (
        "loopback, not the simulator's origin",
        "http://127.0.0.1:9/cv.pdf",
        "is not in cv.allowed_hosts",
    ),
    ("file URL", "file:///etc/passwd", "not a valid URL"),
    ("javascript URL", "javascript:alert(1)", "not a valid URL"),
]
SKIP_TEXT = "the Pinpoint comment are done, but the CV was skipped"
PDF = pdf_bytes("Curriculum Vitae")


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=41, hires=0) as sb:
        yield sb


def _settled(tmp_path: Path, sb: Sandbox, extra: dict[str, dict[str, Any]]) -> Poller:
    p = make_poller(tmp_path, sb, f"sqlite:///{tmp_path}/poller.db", extra)
    p.settle()
    return p


def _assert_cv_skipped(row: Record | None, reason: str, sb: Sandbox) -> None:
    """Failed for the CV alone: employee created, comment posted, no document, a clear why."""
    assert row is not None
    assert (row.state, row.cv_status, row.employee_link) == ("failed", "skipped", "created")
    assert row.hibob_employee_id and row.pinpoint_comment_id
    assert row.cv_document_id is None
    error = row.last_error or ""
    assert SKIP_TEXT in error and reason in error, error
    assert "poller retry" in error and "poller resolve" in error
    assert row.hibob_employee_id not in sb.audit().documents_per_employee()


def test_crafted_links_are_refused_before_use_and_retry_redoes_only_the_cv(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    links = CVLinks(sandbox, monkeypatch)
    ids = {}
    for i, (what, url, _) in enumerate(CRAFTED):
        app_id = sandbox.pinpoint.add_hire("Cand", f"Number{i}", f"cand{i}@example.com")
        links.overrides[app_id] = url
        ids[what] = app_id
    control = sandbox.pinpoint.add_hire("Ctrl", "Person", "ctrl@example.com")

    p = _settled(tmp_path, sandbox, {"cv": {"mode": "url"}})
    try:
        for what, url, reason in CRAFTED:
            row = p.ledger.get(ids[what])
            _assert_cv_skipped(row, reason, sandbox)
            assert row is not None and url.split("?")[-1] not in (row.last_error or "")
        ok = p.ledger.get(control)
        assert ok is not None and (ok.state, ok.cv_status) == ("done", "uploaded")

        audit = sandbox.audit()
        assert all(n == 1 for n in audit.comments_per_application().values())
        assert len(audit.employees_created_per_email()) == len(CRAFTED) + 1
        assert audit.requests("hibob", "POST /docs/people/{id}/shared") == 1  # the control only

        # The link is fixed upstream; `poller retry` (the CLI) redoes the CV and nothing else.
        fixed = ids["host off the allowlist"]
        del links.overrides[fixed]
        out = run_poller("retry", fixed, config=tmp_path / "config.toml", logs=tmp_path / "logs")
        assert out.returncode == 0, out.stderr
        p.settle()
        row = p.ledger.get(fixed)
        assert row is not None and (row.state, row.cv_status) == ("done", "uploaded")
        assert row.hibob_employee_id is not None
        after = sandbox.audit()
        assert after.employees_created_per_email() == audit.employees_created_per_email()
        assert after.comments_per_application() == audit.comments_per_application()
        assert after.documents_per_employee()[row.hibob_employee_id] == 1
        assert after.requests("hibob", "POST /people") == audit.requests("hibob", "POST /people")
    finally:
        p.close()


def test_downloaded_cvs_are_bounded_typed_and_never_redirected_off_the_allowlist(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    zip_not_docx = bytes.fromhex("504b0506") + b"\0" * 18  # an empty zip archive
    routes = {
        "/to-evil": redirect("https://cv-files.evil.example/cv.pdf?X-Amz-Signature=dd44"),
        "/to-metadata": redirect("http://169.254.169.254/latest/meta-data/iam"),
        "/to-private": redirect("https://10.0.0.7/cv.pdf"),
        "/loop": redirect("/loop"),
        "/exe": answer(
            200, b"MZ\x90\x00" + b"\0" * 200, {"Content-Type": "application/x-msdownload"}
        ),
        "/pdf-as-html": answer(200, PDF, {"Content-Type": "text/html"}),
        "/zip-not-docx": answer(200, zip_not_docx, {"Content-Type": "application/zip"}),
        "/big": chunked(8 * 1024 * 1024, "application/pdf", first=b"%PDF-1.4\n"),
        "/to-good": redirect("/good.pdf"),
        "/good.pdf": answer(200, PDF, {"Content-Type": "application/pdf"}),
    }
    expected = {
        "/to-evil": "is not in cv.allowed_hosts",
        "/to-metadata": "is not https",
        "/to-private": "non-public address",
        "/loop": "redirected more than 3 times",
        "/exe": "not a PDF, DOC or DOCX",
        "/pdf-as-html": "served as text/html",
        "/zip-not-docx": "not a PDF, DOC or DOCX",
        "/big": "larger than 5 MB",
    }
    links = CVLinks(sandbox, monkeypatch)
    with storage_host(routes) as host:
        ids = {}
        for i, path in enumerate([*expected, "/to-good"]):
            app_id = sandbox.pinpoint.add_hire("Dl", f"Case{i}", f"dl{i}@example.com")
            links.overrides[app_id] = host.url(path)
            ids[path] = app_id
        # The storage host is loopback on its own port: allow it by IP, as the sandbox needs.
        extra = {
            "cv": {
                "mode": "upload",
                "allowed_hosts": ["pinpointhq.com", "amazonaws.com", "127.0.0.1"],
            }
        }
        p = _settled(tmp_path, sandbox, extra)
        try:
            for path, reason in expected.items():
                _assert_cv_skipped(p.ledger.get(ids[path]), reason, sandbox)
            good = p.ledger.get(ids["/to-good"])
            assert good is not None and (good.state, good.cv_status) == ("done", "uploaded")
        finally:
            p.close()
        # The CV host never sees the APIs' credentials.
        assert host.seen_headers
        for headers in host.seen_headers:
            assert "x-api-key" not in headers and "authorization" not in headers
    stored = [d for d in sandbox.hibob.documents if d.employee_id == good.hibob_employee_id]
    assert [d.content_type for d in stored] == ["application/pdf"]


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("huge", "larger than 5 MB"),  # 10 MB, declared in Content-Length
        ("html", "not a PDF, DOC or DOCX"),  # a sign-in page with a 200
        ("empty", "not a PDF, DOC or DOCX"),
    ],
)
def test_the_simulators_own_file_links_serving_hostile_bodies(
    tmp_path: Path, sandbox: Sandbox, mode: str, reason: str
) -> None:
    app_id = sandbox.pinpoint.add_hire("Hos", "Tile", "hostile@example.com")
    sandbox.faults("pinpoint", "GET /files/{token}/{filename}", hostile=mode)
    p = _settled(tmp_path, sandbox, {"cv": {"mode": "upload"}})
    try:
        _assert_cv_skipped(p.ledger.get(app_id), reason, sandbox)
    finally:
        p.close()
