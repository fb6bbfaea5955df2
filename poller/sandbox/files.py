"""Small but valid CV files, and the S3-style signature on the links that serve them."""

from __future__ import annotations

import hashlib
import hmac
import io
import zipfile
from datetime import UTC, datetime
from urllib.parse import quote

from .routing import Response

PDF_TYPE = "application/pdf"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"  # X-Amz-Date


def _pdf_text(text: str) -> str:
    return (
        text.encode("ascii", "replace").decode().replace("\\", "").replace("(", "").replace(")", "")
    )


def pdf_bytes(text: str) -> bytes:
    """A one-page PDF 1.4 with a correct xref table, showing `text`."""
    stream = f"BT /F1 18 Tf 72 720 Td ({_pdf_text(text)}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)


def docx_bytes(text: str) -> bytes:
    """A minimal Word document (a zip with the three parts Word needs), byte-for-byte stable."""
    safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body><w:p><w:r><w:t>{safe}</w:t></w:r></w:p></w:body></w:document>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _RELS),
            ("word/document.xml", document),
        ):
            # A fixed timestamp keeps the bytes identical for a given seed.
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), body)
    return out.getvalue()


class Signer:
    """HMAC signatures over (token, filename, issue time, lifetime), shaped like S3 presigning."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def __repr__(self) -> str:
        return "Signer(<secret>)"

    def signature(self, token: str, filename: str, issued: str, expires: str) -> str:
        message = f"{token}/{filename}\n{issued}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def query(self, token: str, filename: str, issued_at: datetime, lifetime_s: int) -> str:
        issued = issued_at.astimezone(UTC).strftime(DATE_FORMAT)
        sig = self.signature(token, filename, issued, str(lifetime_s))
        return (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Date={issued}&X-Amz-Expires={lifetime_s}&X-Amz-Signature={sig}"
        )

    def check(self, token: str, filename: str, query: dict[str, str], now: datetime) -> str | None:
        """None when the link's query is valid, else the S3 error code to answer with."""
        issued = query.get("X-Amz-Date", "")
        expires = query.get("X-Amz-Expires", "")
        signature = query.get("X-Amz-Signature", "")
        expected = self.signature(token, filename, issued, expires)
        if not hmac.compare_digest(expected, signature):
            return "SignatureDoesNotMatch"
        try:
            issued_at = datetime.strptime(issued, DATE_FORMAT).replace(tzinfo=UTC)
            lifetime = int(expires)
        except ValueError:
            return "AuthorizationQueryParametersError"
        if (now - issued_at).total_seconds() > lifetime:
            return "AccessDenied"
        return None


def s3_error(status: int, code: str, message: str) -> Response:
    """An S3-style XML error, as the storage behind signed file links answers."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return Response(status, body.encode(), {"Content-Type": "application/xml"})


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII ``filename`` for old clients and the exact name as ``filename*``.

    HTTP headers are Latin-1 on the wire: a name like "zoë_łukasz.pdf" sent as it is made the
    server drop the connection instead of answering.
    """
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
