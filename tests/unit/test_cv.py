"""CV choice, document names, the link allowlist (SSRF guard) and bounded downloads, spooled
to a temporary file that is always removed."""

from __future__ import annotations

import io
import os
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from functools import partial

import pytest
import responses

from poller.cv import check_cv_url, document_name, pick_cv, sniff
from poller.errors import CVRejected, PermanentError, RetryableError
from poller.models import Application, Attachment
from poller.upstream.cv_download import download_cv
from poller.upstream.http import HttpClient
from tests.security.helpers import spool_fds

ORIGIN = "https://acme.pinpointhq.com/api/v1"
ALLOWED = ["pinpointhq.com", "amazonaws.com"]
PDF = b"%PDF-1.4\n" + b"0" * 100
DOC = bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 100


def docx(members: tuple[str, ...] = ("[Content_Types].xml", "word/document.xml")) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name in members:
            archive.writestr(name, "<x/>")
    return buf.getvalue()


def att(
    context: str = "pdf_cv", filename: str = "brian.pdf", url: str = "https://a/b"
) -> Attachment:
    return Attachment(context=context, filename=filename, url=url)


def application(first: str | None = "Brian", last: str | None = "Farrell") -> Application:
    return Application(
        id="8863902",
        first_name=first,
        last_name=last,
        email=None,
        phone=None,
        updated_at=None,
        job_id=None,
        job_title=None,
        department=None,
        location=None,
        offer_start_on=None,
    )


# --- pick_cv --------------------------------------------------------------------------


def test_pick_cv_prefers_the_pdf_rendering() -> None:
    cv, pdf = att("cv", "b.docx"), att("pdf_cv", "b.pdf")
    assert pick_cv([cv, pdf]) is pdf
    assert pick_cv([pdf, cv]) is pdf


def test_pick_cv_falls_back_to_the_original() -> None:
    cv = att(" CV ", "b.docx")
    assert pick_cv([att("cover_letter"), cv]) is cv


def test_pick_cv_skips_attachments_without_link_and_others() -> None:
    assert pick_cv([att("pdf_cv", url=""), att("cover_letter")]) is None
    assert pick_cv([]) is None


def test_attachment_repr_hides_the_signed_link() -> None:
    assert "sig" not in repr(att(url="https://a/b?sig=secret"))


# --- document_name --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "filename", "expected"),
    [
        ("Brian", "Farrell", "brian_farrell.pdf", "CV - Brian Farrell.pdf"),
        ("Brian", "Farrell", "brian_farrell.DOCX", "CV - Brian Farrell.docx"),
        ("Brian", "Farrell", "C:\\Users\\bf\\cv.doc", "CV - Brian Farrell.doc"),
        ("Brian", "Farrell", "../../etc/passwd", "CV - Brian Farrell.pdf"),
        ("Brian", "Farrell", "cv.exe", "CV - Brian Farrell.pdf"),
        ("Brian", "Farrell", "", "CV - Brian Farrell.pdf"),
        ("../../Brian", "Far/rell\\x", "a.pdf", "CV - Brian Far rell x.pdf"),
        ("Bri\x00an\x1b[31m", "Far\u202erell\n", "a.pdf", "CV - Brian[31m Farrell.pdf"),
        ("  Brian  ", None, "a.pdf", "CV - Brian.pdf"),
        (None, None, "a.pdf", "CV - application 8863902.pdf"),
        ("..", "\x07", "a.pdf", "CV - application 8863902.pdf"),
        ("Zoë", "Ørsted-Łukasz 李", "a.docx", "CV - Zoë Ørsted-Łukasz 李.docx"),
    ],
)
def test_document_name(first: str | None, last: str | None, filename: str, expected: str) -> None:
    assert document_name(application(first, last), att(filename=filename)) == expected


def test_document_name_is_unicode_normalised() -> None:
    decomposed = unicodedata.normalize("NFD", "José")
    name = document_name(application(decomposed, "Núñez"), att())
    assert name == "CV - José Núñez.pdf" and name == unicodedata.normalize("NFC", name)


def test_document_name_is_bounded_and_keeps_its_extension() -> None:
    name = document_name(application("A" * 300, "B" * 300), att(filename="x.docx"), max_len=60)
    assert len(name) <= 60 and name.endswith(".docx") and name.startswith("CV - AAAA")
    assert len(document_name(application("A" * 300, None), att())) <= 120


def test_document_name_does_not_end_in_a_dot_before_the_extension() -> None:
    name = document_name(application("A" * 14 + ".", "B"), att(), max_len=24)
    assert ".." not in name and name.endswith(".pdf")


# --- check_cv_url ---------------------------------------------------------------------

GOOD = [
    "https://acme.pinpointhq.com/files/cv.pdf?sig=1",
    "https://pinpointhq.com/cv.pdf",
    "https://pinpoint-uploads.s3.eu-west-1.amazonaws.com/x/cv.pdf?X-Amz-Signature=abc",
    "https://ACME.PinpointHQ.com./cv.pdf",
    "https://acme.pinpointhq.com:8443/cv.pdf",
]
BAD = [
    ("http://acme.pinpointhq.com/cv.pdf", "is not https"),
    ("ftp://acme.pinpointhq.com/cv.pdf", "is not https"),
    ("https://evil-pinpointhq.com/cv.pdf", "not in cv.allowed_hosts"),
    ("https://pinpointhq.com.evil.com/cv.pdf", "not in cv.allowed_hosts"),
    ("https://evil.com/pinpointhq.com/cv.pdf", "not in cv.allowed_hosts"),
    ("https://evil.com?x=.pinpointhq.com", "not in cv.allowed_hosts"),
    ("https://user:pw@acme.pinpointhq.com/cv.pdf", "carries credentials"),
    ("https://acme.pinpointhq.com@evil.com/cv.pdf", "carries credentials"),
    ("https://evil.com\\@acme.pinpointhq.com/cv.pdf", "carries credentials"),
    ("https://10.0.0.5/cv.pdf", "non-public address"),
    ("https://169.254.169.254/latest/meta-data", "non-public address"),
    ("https://127.0.0.1/cv.pdf", "non-public address"),
    ("https://[::1]/cv.pdf", "non-public address"),
    ("https://[::ffff:10.0.0.1]/cv.pdf", "non-public address"),
    ("https://[fd00::1]/cv.pdf", "non-public address"),
    ("https://100.64.0.1/cv.pdf", "non-public address"),
    ("https://localhost/cv.pdf", "non-public address"),
    ("https://8.8.8.8/cv.pdf", "not in cv.allowed_hosts"),
    ("https://xn--pnpoint-9za.com/cv.pdf", "not in cv.allowed_hosts"),
    ("https://pinpöinthq.com/cv.pdf", "not a plain DNS name"),
    ("https://acme.pinpointhq.com:99999/cv.pdf", "not a valid URL"),
    ("https:///cv.pdf", "not a valid URL"),
    ("cv.pdf", "not a valid URL"),
    ("https://acme.pinpointhq.com/c v.pdf", "not a valid URL"),
    ("https://[::1/cv.pdf", "not a valid URL"),
]


@pytest.mark.parametrize("url", GOOD)
def test_good_cv_links(url: str) -> None:
    check_cv_url(url, allowed_hosts=ALLOWED, pinpoint_origin=ORIGIN, allow_loopback=False)


@pytest.mark.parametrize(("url", "reason"), BAD)
def test_bad_cv_links(url: str, reason: str) -> None:
    with pytest.raises(CVRejected, match=reason) as info:
        check_cv_url(url, allowed_hosts=ALLOWED, pinpoint_origin=ORIGIN, allow_loopback=False)
    for secret in ("sig=", "pw@", "X-Amz", "meta-data"):
        assert secret not in str(info.value)


@pytest.mark.parametrize(
    ("url", "allow_loopback", "reason"),
    [
        ("http://127.0.0.1:8080/files/cv.pdf?sig=1", True, None),  # the sandbox's own origin
        ("http://127.0.0.1:8080/files/cv.pdf", False, "not https"),
        ("http://localhost:8080/files/cv.pdf", True, "not in cv.allowed_hosts"),  # other origin
        ("http://127.0.0.1:9999/files/cv.pdf", True, "not in cv.allowed_hosts"),
        ("http://10.0.0.1:8080/cv.pdf", True, "not https"),
        ("https://10.0.0.1:8080/cv.pdf", True, "non-public address"),
        ("https://169.254.169.254/latest", True, "non-public address"),
    ],
)
def test_loopback_only_when_allowed(url: str, allow_loopback: bool, reason: str | None) -> None:
    check = partial(
        check_cv_url,
        url,
        allowed_hosts=ALLOWED,
        pinpoint_origin="http://127.0.0.1:8080/api/v1",
        allow_loopback=allow_loopback,
    )
    if reason is None:
        check()
    else:
        with pytest.raises(CVRejected, match=reason):
            check()


def test_allowed_ip_literal_must_match_exactly() -> None:
    check_cv_url(
        "https://8.8.8.8/cv.pdf",
        allowed_hosts=["8.8.8.8"],
        pinpoint_origin=ORIGIN,
        allow_loopback=False,
    )
    with pytest.raises(CVRejected):
        check_cv_url(
            "https://18.8.8.8/cv.pdf",
            allowed_hosts=["8.8.8.8"],
            pinpoint_origin=ORIGIN,
            allow_loopback=False,
        )


# --- download_cv ----------------------------------------------------------------------

SANDBOX = "http://127.0.0.1:8080"
CV_URL = f"{SANDBOX}/files/cv.pdf?sig=sekret-signature"
check = partial(
    check_cv_url, allowed_hosts=["localhost"], pinpoint_origin=SANDBOX, allow_loopback=True
)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def http() -> HttpClient:
    return HttpClient("cv", "", headers={}, sleep=lambda _: None, max_retries=1)


def fetch(url: str = CV_URL, check: Callable[[str], None] = check, **kw: int) -> tuple[bytes, str]:
    """download_cv's (content, content type), read back from its temporary file."""
    with download_cv(http(), url, check=check, **kw) as cv:
        content = cv.file.read()
        assert len(content) == cv.size
        return content, cv.content_type


class Endless(io.RawIOBase):
    """A body source that counts how much of it was read: ``first``, then zeros."""

    def __init__(self, first: bytes, total: int) -> None:
        self.data_read = 0
        self._first, self._total = first, total

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._total - self.data_read)
        head = self._first[self.data_read : self.data_read + n]
        buffer[:n] = head + b"0" * (n - len(head))
        self.data_read += n
        return n


@pytest.mark.parametrize(
    ("body", "header", "kind"),
    [
        (PDF, "application/pdf", "application/pdf"),
        (PDF, "binary/octet-stream", "application/pdf"),
        (DOC, "application/msword", "application/msword"),
        (
            docx(),
            "application/zip",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            docx(),
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
    ],
)
def test_download_cv_types(
    mocked: responses.RequestsMock, body: bytes, header: str, kind: str
) -> None:
    mocked.get(CV_URL, body=body, content_type=header)
    assert fetch() == (body, kind)


@pytest.mark.parametrize(
    ("body", "header", "reason"),
    [
        (b"<html>login</html>", "text/html", "not a PDF, DOC or DOCX"),
        (PDF, "text/html", "served as text/html"),
        (docx(("xl/workbook.xml",)), "application/zip", "not a PDF, DOC or DOCX"),
        (b"PK\x03\x04 not really a zip", "application/zip", "not a PDF, DOC or DOCX"),
        (b"", "application/pdf", "not a PDF, DOC or DOCX"),
    ],
)
def test_download_cv_rejects_other_types(
    mocked: responses.RequestsMock, body: bytes, header: str, reason: str
) -> None:
    mocked.get(CV_URL, body=body, content_type=header)
    before = spool_fds()
    with pytest.raises(CVRejected, match=reason):
        fetch()
    assert spool_fds() == before


@pytest.mark.parametrize("declare_length", [True, False])
def test_download_cv_size_cap(mocked: responses.RequestsMock, declare_length: bool) -> None:
    mocked.add(
        responses.Response(
            "GET",
            CV_URL,
            body=PDF + b"0" * (5 * 1024 * 1024),
            content_type="application/pdf",
            auto_calculate_content_length=declare_length,
        )
    )
    with pytest.raises(CVRejected, match="larger than 5 MB"):
        fetch()


def test_download_cv_at_the_size_cap_exactly(mocked: responses.RequestsMock) -> None:
    body = PDF + b"0" * (1000 - len(PDF))
    mocked.get(CV_URL, body=body, content_type="application/pdf")
    assert fetch(max_bytes=1000) == (body, "application/pdf")


def test_download_cv_without_length_stops_reading_once_over_the_cap(
    mocked: responses.RequestsMock,
) -> None:
    """Chunked, no Content-Length: reading stops mid-stream just past the limit, and the
    temporary file is gone."""
    source = Endless(PDF, total=50 * 1024 * 1024)
    mocked.add(
        responses.Response(
            "GET",
            CV_URL,
            body=io.BufferedReader(source),
            content_type="application/pdf",
            auto_calculate_content_length=False,
        )
    )
    before = spool_fds()
    with pytest.raises(CVRejected, match="larger than 1 MB"):
        fetch(max_bytes=1024 * 1024)
    assert 1024 * 1024 < source.data_read <= 1024 * 1024 + 2 * 64 * 1024
    assert spool_fds() == before


def test_download_cv_refuses_a_declared_length_over_the_cap_before_reading(
    mocked: responses.RequestsMock,
) -> None:
    source = Endless(PDF, total=50 * 1024 * 1024)
    mocked.add(
        responses.Response(
            "GET",
            CV_URL,
            body=io.BufferedReader(source),
            content_type="application/pdf",
            headers={"Content-Length": str(50 * 1024 * 1024)},
            auto_calculate_content_length=False,
        )
    )
    with pytest.raises(CVRejected, match="larger than 5 MB"):
        fetch()
    assert source.data_read == 0


def test_download_cv_spools_to_a_temporary_file_removed_after_the_block(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(CV_URL, body=PDF, content_type="application/pdf")
    before = spool_fds()
    with download_cv(http(), CV_URL, check=check) as cv:
        assert len(spool_fds() - before) == 1  # the CV is in an unnamed temporary file
        assert os.fstat(cv.file.fileno()).st_size == len(PDF)
        assert (cv.file.read(), cv.size) == (PDF, len(PDF))
    assert cv.file.closed and spool_fds() == before


def test_download_cv_removes_the_file_when_the_block_fails(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(CV_URL, body=PDF, content_type="application/pdf")
    before = spool_fds()
    with (
        pytest.raises(PermanentError, match="HiBob said no"),
        download_cv(http(), CV_URL, check=check) as cv,
    ):
        raise PermanentError("HiBob said no", api="hibob", endpoint="upload", status=400)
    assert cv.file.closed and spool_fds() == before


def test_download_cv_cut_off_midway_is_retryable_and_leaves_no_file(
    mocked: responses.RequestsMock,
) -> None:
    """The server promised more than it sent: urllib3 notices, the download is retried later."""
    mocked.add(
        responses.Response(
            "GET",
            CV_URL,
            body=io.BufferedReader(Endless(PDF, 1000)),
            content_type="application/pdf",
            headers={"Content-Length": "5000"},
            auto_calculate_content_length=False,
        )
    )
    before = spool_fds()
    with pytest.raises(RetryableError, match="cut off"):
        fetch()
    assert spool_fds() == before


class FullDisk(io.BytesIO):
    def write(self, data: bytes) -> int:  # type: ignore[override]
        raise OSError(28, "No space left on device")


def test_download_cv_on_a_full_disk_is_retryable_with_a_clear_message(
    mocked: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    mocked.get(CV_URL, body=PDF, content_type="application/pdf")
    spools: list[FullDisk] = []
    monkeypatch.setattr(tempfile, "TemporaryFile", lambda: spools.append(FullDisk()) or spools[-1])
    with pytest.raises(RetryableError) as caught:
        fetch()
    err = caught.value
    assert err.message == (
        f"CV could not be spooled to a temporary file in {tempfile.gettempdir()}: "
        "No space left on device"
    )
    assert (err.api, err.endpoint, err.status) == ("pinpoint", "GET cv", None)
    assert err.__cause__ is None and err.__suppress_context__
    assert "sekret" not in str(err)
    assert spools[0].closed


def test_download_cv_without_a_temporary_directory_is_retryable(
    mocked: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    mocked.get(CV_URL, body=PDF, content_type="application/pdf")

    def no_tmp() -> None:
        raise FileNotFoundError(2, "No usable temporary directory found")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_tmp)
    with pytest.raises(RetryableError, match=r"No usable temporary directory found$"):
        fetch()


def test_download_cv_follows_allowed_redirects_rechecking_each(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(CV_URL, status=302, headers={"Location": "http://localhost:8080/a?sig=2"})
    mocked.get("http://localhost:8080/a", status=307, headers={"Location": "/files/final.pdf"})
    mocked.get("http://localhost:8080/files/final.pdf", body=PDF, content_type="application/pdf")
    seen: list[str] = []

    def recording(url: str) -> None:
        seen.append(url)
        check(url)

    assert fetch(check=recording)[0] == PDF
    assert seen == [
        CV_URL,
        "http://localhost:8080/a?sig=2",
        "http://localhost:8080/files/final.pdf",
    ]


def test_download_cv_redirect_off_the_allowlist_is_not_followed(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(
        CV_URL, status=302, headers={"Location": "http://169.254.169.254/latest/meta-data?x=1"}
    )
    with pytest.raises(CVRejected, match=r"169\.254\.169\.254") as info:
        fetch()
    assert len(mocked.calls) == 1 and "meta-data" not in str(info.value)


def test_download_cv_too_many_redirects(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{SANDBOX}/files/cv.pdf", status=302, headers={"Location": CV_URL})
    with pytest.raises(CVRejected, match="more than 3 times"):
        fetch()
    assert len(mocked.calls) == 4


def test_download_cv_redirect_without_location(mocked: responses.RequestsMock) -> None:
    mocked.get(CV_URL, status=302)
    with pytest.raises(CVRejected, match="without a Location"):
        fetch()


@pytest.mark.parametrize("status", [403, 404, 410])
def test_download_cv_refused_link_is_a_cv_problem_not_an_auth_stop(
    mocked: responses.RequestsMock, status: int
) -> None:
    mocked.get(
        CV_URL,
        status=status,
        body=b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message>"
        b"<X>sekret-signature</X></Error>",
    )
    with pytest.raises(CVRejected, match=f"HTTP {status}") as info:
        fetch()
    assert "sekret-signature" not in str(info.value)


def test_download_cv_outage_is_retryable(mocked: responses.RequestsMock) -> None:
    mocked.get(CV_URL, status=503)
    with pytest.raises(RetryableError) as info:
        fetch()
    assert len(mocked.calls) == 2 and "sekret-signature" not in str(info.value)


def test_download_cv_checks_the_first_link_too(mocked: responses.RequestsMock) -> None:
    with pytest.raises(CVRejected):
        fetch("https://evil.com/cv.pdf")
    assert len(mocked.calls) == 0


def test_sniff() -> None:
    files = [io.BytesIO(b) for b in (PDF, DOC, docx(), b"GIF89a", b"")]
    files[0].seek(5)  # sniff reads from the start, wherever the file stands
    assert [sniff(f) for f in files] == ["pdf", "doc", "docx", None, None]
    assert not any(f.closed for f in files)  # the caller still owns the file


def test_sniff_reads_a_docx_from_a_temporary_file() -> None:
    with tempfile.TemporaryFile() as spool:
        spool.write(docx())
        assert sniff(spool) == "docx"
        spool.truncate(200)  # the central directory, at the end, is cut off
        assert sniff(spool) is None
        spool.seek(0)
        spool.truncate()
        spool.write(b"PK\x03\x04 broken")
        assert sniff(spool) is None


def test_sniff_refuses_a_zip_directory_no_docx_would_have(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted from the end record, before zipfile builds an object per entry."""
    many = docx(("[Content_Types].xml", "word/document.xml", *(f"x/{i}" for i in range(2100))))
    small = docx()
    zipfile_calls: list[object] = []
    real_zipfile = zipfile.ZipFile
    monkeypatch.setattr(zipfile, "ZipFile", lambda f: zipfile_calls.append(f) or real_zipfile(f))
    assert sniff(io.BytesIO(many)) is None
    assert zipfile_calls == []  # refused from the 22-byte end record alone
    # The same archive with the limit above its size is a DOCX: only the count refused it.
    monkeypatch.setattr("poller.cv.DOCX_MAX_ENTRIES", 5000)
    assert sniff(io.BytesIO(many)) == "docx"
    # A directory announced bigger than the bound is refused too, whatever its entry count.
    monkeypatch.setattr("poller.cv.DOCX_MAX_DIRECTORY_BYTES", 100)
    assert sniff(io.BytesIO(small)) is None


def test_sniff_finds_the_end_record_after_a_zip_comment() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
        archive.comment = b"c" * 60_000
    assert sniff(buf) == "docx"


def test_unreadable_pinpoint_origin_only_loses_the_origin_match() -> None:
    check_cv_url(
        "https://acme.pinpointhq.com/cv.pdf",
        allowed_hosts=ALLOWED,
        pinpoint_origin="https://[::1",
        allow_loopback=False,
    )
    with pytest.raises(CVRejected, match=r"not in cv\.allowed_hosts"):
        check_cv_url(
            "https://files.example.com/cv.pdf",
            allowed_hosts=ALLOWED,
            pinpoint_origin="https://files.example.com:bad",
            allow_loopback=False,
        )
