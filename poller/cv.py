"""CV policy, pure: which attachment, what to call it, whether its link may be followed,
and what its bytes are. The download itself is ``poller.upstream.cv_download``.

CV links are signed URLs whose query string is a credential, and they come from outside
data: they are only followed to allow-listed hosts (the SSRF guard), and messages name
the host only.
"""

from __future__ import annotations

import ipaddress
import re
import struct
import zipfile
from collections.abc import Sequence
from typing import IO
from urllib.parse import urlsplit

from poller.errors import CVRejected
from poller.hosts import is_loopback_host
from poller.models import Application, Attachment
from poller.text import clean

CV_CONTEXTS = ("pdf_cv", "cv")  # in order of preference
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
# Labels that say nothing about the type (S3 often serves these); the bytes decide.
GENERIC_TYPES = frozenset(
    {
        "",
        "application/octet-stream",
        "binary/octet-stream",
        "application/zip",
        "application/x-zip-compressed",
        "application/x-pdf",
        "application/download",
        "application/force-download",
    }
)
_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
# A Word document has tens of parts. Bounds for the zip directory read to sniff one:
DOCX_MAX_ENTRIES = 2000
DOCX_MAX_DIRECTORY_BYTES = 1024 * 1024
_ZIP_END = struct.Struct("<4s4H2LH")  # the end-of-central-directory record (APPNOTE 4.3.16)
_ZIP_END_SEARCH = _ZIP_END.size + 0xFFFF  # the record, then a comment of up to 64 KiB
_DNS_NAME = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*$")
# Characters that are path separators or invalid in file names on common systems.
_UNSAFE_TO_SPACE = str.maketrans(dict.fromkeys('/\\:*?"<>|', " "))
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
    return clean(text.translate(_UNSAFE_TO_SPACE), printable=True).strip(" .")


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
    shown = clean(host, 80, ellipsis=True, printable=True)
    if "@" in parts.netloc:
        raise CVRejected(f"CV link to {shown} carries credentials (user info)")
    ip = _ip(host)
    if ip is None and not _DNS_NAME.match(host):
        raise CVRejected(f"CV link host {shown} is not a plain DNS name")
    loopback = is_loopback_host(host)
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
    """ "pdf", "doc" or "docx" from the bytes of a seekable file, else None."""
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
