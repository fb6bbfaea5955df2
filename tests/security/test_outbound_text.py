"""Text the poller builds from candidate data and sends out: the Pinpoint comment, the HiBob
document name (a JSON field, or a multipart file name) and the employee's names.

Candidates are named with control characters, terminal escapes, bidi overrides (U+202E
makes "cv<RLO>fdp.exe" show as "cvexe.pdf"), header-injection attempts, path parts and
5,000-character names; the test then reads what actually reached the simulators.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from poller.sandbox import Sandbox
from poller.sandbox.files import pdf_bytes
from tests.e2e.harness import make_poller
from tests.security.helpers import CVLinks, answer, storage_host

MAX_COMMENT = 500
MAX_DOCUMENT_NAME = 120
MAX_NAME = 255
BIDI = set("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# (first, last) as a hostile or careless recruiter may have typed them.
NAMES = [
    ("Ann\x00\x07\x1b[31m", "O'Neil\u202eFDP.exe\u202c"),
    ("A" * 5000, "B" * 5000),
    ("Zoë\u200b\u2066Isolate\u2069", "Line\u2028Sep\tTab\nNew"),
    ("Mallory\r\nX-Injected: 1", 'Quote"; filename="evil.exe'),
    ("..\\..\\Windows", "C:System32|*?<>"),
    ("\U0001f600 Emoji", "\ufeffBom\u00adSoft"),
]


def _unsafe(text: str, *, strict: bool = False) -> list[str]:
    """Control characters, bidi controls, and whitespace other than a plain space. ``strict``
    (file names) also refuses every other format character: zero-width, BOM, soft hyphen.
    Elsewhere those stay, since ZWJ/ZWNJ are part of correctly written names and emoji."""
    return [
        f"U+{ord(ch):04X}"
        for ch in text
        if ch != " "
        and (
            unicodedata.category(ch) in ("Cc", "Zl", "Zp")
            or ch in BIDI
            or ch.isspace()
            or (strict and unicodedata.category(ch)[0] in "CZ")
        )
    ]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=61, hires=0) as sb:
        yield sb


@pytest.mark.parametrize("cv_mode", ["url", "upload"])
def test_comment_document_name_and_employee_names_are_clean_and_bounded(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, cv_mode: str
) -> None:
    ids = [
        sandbox.pinpoint.add_hire(first, last, f"person{i}@example.com")
        for i, (first, last) in enumerate(NAMES)
    ]
    # The simulator can't serve a file whose name holds these characters (its
    # Content-Disposition header breaks), so the CVs come from a plain loopback host.
    links = CVLinks(sandbox, monkeypatch)
    pdf = answer(200, pdf_bytes("CV"), {"Content-Type": "application/pdf"})
    with storage_host({"/cv.pdf": pdf}) as host:
        links.overrides.update(dict.fromkeys(ids, host.url("/cv.pdf")))
        extra = {
            "cv": {
                "mode": cv_mode,
                "allowed_hosts": ["pinpointhq.com", "amazonaws.com", "127.0.0.1"],
            }
        }
        p = make_poller(tmp_path, sandbox, f"sqlite:///{tmp_path}/p.db", extra)
        try:
            p.settle()
            rows = [p.ledger.get(app_id) for app_id in ids]
        finally:
            p.close()
    assert [r.state if r else None for r in rows] == ["done"] * len(NAMES)

    comments = list(sandbox.pinpoint.comments.values())
    assert len(comments) == len(NAMES)
    for comment in comments:
        text = comment.body_text
        assert len(text) <= MAX_COMMENT and _unsafe(text) == [], repr(text)
        assert text.startswith("Employee created in HiBob with ID ")

    documents = sandbox.hibob.documents
    assert len(documents) == len(NAMES)
    for doc in documents:
        name = doc.name
        assert len(name) <= MAX_DOCUMENT_NAME and _unsafe(name, strict=True) == [], repr(name)
        assert not set(name) & set('/\\:*?"<>|'), repr(name)
        assert name.startswith("CV - ") and name.endswith(".pdf") and ".." not in name
    long_name = next(d.name for d in documents if "AAAA" in d.name)
    assert long_name.endswith("A.pdf") or long_name.endswith("B.pdf")  # cut, extension kept

    for employee in sandbox.hibob.employees.values():
        for field in ("firstName", "surname"):
            value = str(employee.fields[field])
            assert 0 < len(value) <= MAX_NAME and _unsafe(value) == [], repr(value)


def test_a_name_of_nothing_but_control_characters_fails_the_row_clearly(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    app_id = sandbox.pinpoint.add_hire("Real", "\x00\u202e\x1b", "blank@example.com", cv=False)
    p = make_poller(tmp_path, sandbox, f"sqlite:///{tmp_path}/p.db")
    try:
        p.settle()
        row = p.ledger.get(app_id)
    finally:
        p.close()
    assert row is not None and row.state == "failed"
    assert "last name" in (row.last_error or "")
    assert sandbox.audit().write_requests() == 0
