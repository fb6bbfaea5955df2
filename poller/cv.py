"""CV handling: which attachment, what to call it, whether its link may be followed, and
downloading it within bounds.

CV links are signed URLs whose query string is a credential, and they come from outside
data: they are only followed to allow-listed hosts (the SSRF guard), and messages name
the host only. A downloaded CV is spooled to an anonymous temporary file, never held whole
in memory.
"""

from __future__ import annotations

import ipaddress
import re
import struct
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from poller.errors import CVRejected, PermanentError, RetryableError
from poller.models import Application, Attachment
from poller.upstream.http import HttpClient
from poller.upstream.http_errors import clean_text

if TYPE_CHECKING:  # only http.py deals in requests at run time
    import requests

ENDPOINT_CV = "GET cv"
MAX_REDIRECTS = 3
CV_CONTEXTS = ("pdf_cv", "cv")  # in order of preference
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
# Labels that say nothing about the type (S3 often serves these); the bytes decide.
_GENERIC_TYPES = frozenset({
    "", "application/octet-stream", "binary/octet-stream", "application/zip",
    "application/x-zip-compressed", "application/x-pdf", "application/download",
    "application/force-download",
})
_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
# A Word document has tens of parts. Bounds for the zip directory read to sniff one:
DOCX_MAX_ENTRIES = 2000
DOCX_MAX_DIRECTORY_BYTES = 1024 * 1024
_ZIP_END = struct.Struct("<4s4H2LH")  # the end-of-central-directory record (APPNOTE 4.3.16)
_ZIP_END_SEARCH = _ZIP_END.size + 0xFFFF  # the record, then a comment of up to 64 KiB
_DNS_NAME = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*$")
# Characters that are path separators or invalid in file names on common systems.
_UNSAFE_IN_NAME = frozenset('/\\:*?"<>|')
_DEFAULT_PORTS = {"http": 80, "https": 443}


def pick_cv(attachments: Sequence[Attachment]) -> Attachment | None:
    """The CV attachment: Pinpoint's PDF rendering first, then the uploaded original."""
    by_context: dict[str, Attachment] = {}
    for att in attachments:
        context = att.context.strip().lower()
        if att.url and context in CV_CONTEXTS:
            by_context.setdefault(context, att)
    return next((by_context[c] for c in CV_CONTEXTS if c in by_context), None)


def _name_part(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    kept = (
        " " if ch.isspace() or ch in _UNSAFE_IN_NAME else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch)[0] != "C"
    )
    return " ".join("".join(kept).split()).strip(" .")


def document_name(app: Application, att: Attachment, max_len: int = 120) -> str:
    """``CV - First Last.ext``: a plain file name, stable for the same application (the
    idempotency check looks for it), extension taken from the attachment if it is
    pdf/doc/docx, else .pdf."""
    if max_len < 16:
        raise ValueError("max_len must be at least 16")
    basename = re.split(r"[\\/]", att.filename)[-1]
    ext = basename.rsplit(".", 1)[-1].lower() if "." in basename else ""
    if ext not in CONTENT_TYPES:
        ext = "pdf"
    person = _name_part(" ".join(p for p in (app.first_name, app.last_name) if p))
    stem = f"CV - {person or _name_part(f'application {app.id}') or 'application'}"
    stem = stem[: max_len - len(ext) - 1].rstrip(" .")
    return f"{stem}.{ext}"


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    return ip


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) with default ports filled in; None when it can't be read."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".")
    return (scheme, host, port) if host else None


def _host_allowed(host: str, allowed_hosts: Sequence[str], is_ip: bool) -> bool:
    for entry in allowed_hosts:
        suffix = entry.strip().lower().strip(".")
        if suffix and (host == suffix or (not is_ip and host.endswith("." + suffix))):
            return True
    return False


def check_cv_url(
    url: str, *, allowed_hosts: Sequence[str], pinpoint_origin: str, allow_loopback: bool
) -> None:
    """Raise CVRejected unless ``url`` may be fetched (by us or by HiBob).

    https only (http only to loopback, when loopback is allowed); no userinfo; the host
    must equal or end in ".<suffix>" of an allowed host, or share the origin of the
    Pinpoint base URL; IP literals outside public space are refused, except loopback
    when allowed.
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        raise CVRejected("CV link is not a valid URL") from None
    # isprintable() is False for every whitespace character but the ASCII space.
    if not host or " " in url or not url.isprintable():
        raise CVRejected("CV link is not a valid URL")
    shown = clean_text(host, 80)
    if "@" in parts.netloc:
        raise CVRejected(f"CV link to {shown} carries credentials (user info)")
    ip = _ip(host)
    if ip is None and not _DNS_NAME.match(host):
        raise CVRejected(f"CV link host {shown} is not a plain DNS name")
    loopback = ip.is_loopback if ip else host == "localhost" or host.endswith(".localhost")
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_loopback and loopback):
        raise CVRejected(f"CV link to {shown} is not https")
    if (loopback and not allow_loopback) or (ip is not None and not ip.is_global and not loopback):
        raise CVRejected(f"CV link points to a non-public address ({shown})")
    origin = _origin(url)
    same_origin = origin is not None and origin == _origin(pinpoint_origin)
    if not same_origin and not _host_allowed(host, allowed_hosts, ip is not None):
        raise CVRejected(f"CV link host {shown} is not in cv.allowed_hosts")


def sniff(file: IO[bytes]) -> str | None:
    """"pdf", "doc" or "docx" from the bytes of a seekable file, else None."""
    file.seek(0)
    head = file.read(1024)
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith(_OLE_MAGIC):
        return "doc"
    if head.startswith(b"PK\x03\x04"):
        if not _small_zip_directory(file):
            return None
        try:  # only the central directory is read: no decompression of untrusted data
            with zipfile.ZipFile(file) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, ValueError, OSError, EOFError):
            return None
        return "docx" if "word/document.xml" in names else None
    return None


def _small_zip_directory(file: IO[bytes]) -> bool:
    """Whether the zip's end record announces a central directory a DOCX could have.

    zipfile reads the whole directory into a Python object per entry: a crafted "DOCX" of
    a few MB naming 100,000 entries would cost a worker far more memory than the file.
    """
    end = file.seek(0, 2)
    file.seek(max(0, end - _ZIP_END_SEARCH))
    tail = file.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _ZIP_END.size:
        return False
    fields = _ZIP_END.unpack_from(tail, at)
    entries, directory_bytes = int(fields[4]), int(fields[5])
    return entries <= DOCX_MAX_ENTRIES and directory_bytes <= DOCX_MAX_DIRECTORY_BYTES


def _size(limit: int) -> str:
    mb = 1024 * 1024
    return f"{limit // mb} MB" if limit % mb == 0 else f"{limit} bytes"


@dataclass(frozen=True)
class CVFile:
    """A downloaded CV: an anonymous temporary ``file`` (read it from the start), its
    ``size`` in bytes and its ``content_type``, from the bytes themselves."""

    file: IO[bytes]
    size: int
    content_type: str


@contextmanager
def download_cv(
    http: HttpClient,
    url: str,
    *,
    max_bytes: int = 5 * 1024 * 1024,
    check: Callable[[str], None],
) -> Iterator[CVFile]:
    """Fetch a CV into a temporary file, for use in a ``with`` block; the file is removed
    when the block ends, or when the download fails. Redirects are followed by hand, at
    most MAX_REDIRECTS, each new location re-checked. Reading stops as soon as the body
    passes ``max_bytes``. Transient failures (timeouts, 5xx) propagate as RetryableError;
    everything else about the CV is CVRejected."""
    resp = _follow(http, url, check)
    declared = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
    with closing(resp), _spool() as spool:
        try:
            size = http.read_into(resp, spool, endpoint=ENDPOINT_CV, limit=max_bytes)
        except OSError as exc:  # the spool's disk, not the network (read_into translates that)
            raise _spool_error(exc) from None
        if size is None:
            raise CVRejected(f"CV is larger than {_size(max_bytes)}")
        kind = sniff(spool)
        if kind is None:
            raise CVRejected("CV is not a PDF, DOC or DOCX file")
        if declared not in _GENERIC_TYPES and declared not in CONTENT_TYPES.values():
            raise CVRejected(f"CV is served as {clean_text(declared, 80)}, not PDF/DOC/DOCX")
        spool.seek(0)
        yield CVFile(spool, size, CONTENT_TYPES[kind])


@contextmanager
def _spool() -> Iterator[IO[bytes]]:
    try:
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise _spool_error(exc) from None
    with spool:
        yield spool


def _spool_error(exc: OSError) -> RetryableError:
    """A full or unwritable temporary directory: the hire is retried later, no traceback."""
    reason = exc.strerror or type(exc).__name__
    return RetryableError(
        f"CV could not be spooled to a temporary file in {tempfile.gettempdir()}: {reason}",
        api="pinpoint", endpoint=ENDPOINT_CV,
    )


def _follow(http: HttpClient, url: str, check: Callable[[str], None]) -> requests.Response:
    """The streamed 2xx answer for ``url``, after following (and checking) redirects."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        check(current)
        host = clean_text(urlsplit(current).hostname or "", 80)
        try:
            resp = http.get_absolute(current, endpoint=ENDPOINT_CV, stream=True)
        except PermanentError as exc:  # includes 401/403 of an expired link: not a cycle stop
            raise CVRejected(f"CV download from {host} failed: {exc.message}"
                             f" (HTTP {exc.status})") from exc
        if 300 <= resp.status_code < 400:
            location = resp.headers.get("Location")
            resp.close()
            if not location:
                raise CVRejected(f"CV download from {host} redirected without a Location")
            current = urljoin(current, location)
            continue
        return resp
    raise CVRejected(f"CV download redirected more than {MAX_REDIRECTS} times")
