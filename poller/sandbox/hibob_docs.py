"""HiBob's document endpoints (hibob.md "Documents"): upload from a URL, upload a file, list.

Document ids are strings in every answer. The file upload's answer body is undocumented, so
`upload_answer` picks it: "document" (the document, as the URL upload answers), "empty" (200
with no body) or "no_id" (a JSON object without `id`). The document is stored in every case.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from ipaddress import ip_address
from typing import Any, Protocol
from urllib.parse import urlsplit

from . import multipart
from .audit import Audit
from .hibob_errors import HibobRejection
from .hibob_state import DOCUMENT_LIMIT_BYTES
from .records import Document
from .routing import Request, Response, json_response


class HibobSim(Protocol):
    """What these handlers use of the HiBob simulator (hibob.py), which passes itself."""

    audit: Audit
    origin: str
    allow_remote_fetch: bool
    fetch_timeout_seconds: float
    upload_answer: str
    documents_shape: str

    def rejected(self, rejection: HibobRejection) -> Response: ...
    def json_body(self, request: Request) -> Any: ...
    def documents_of(self, employee_id: str) -> list[Document]: ...
    def require_employee(self, employee_id: str) -> None: ...
    def add_document(
        self,
        employee_id: str,
        *,
        folder: str,
        name: str,
        tags: list[str],
        content: bytes,
        content_type: str,
        source: str,
    ) -> Document: ...


UPLOAD_ANSWERS = ("document", "empty", "no_id")
FOLDER_IDS = {"shared": 1047097, "confidential": 1047098}  # folderId, as in the recorded answer


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _folder(request: Request) -> str:
    return "confidential" if "/confidential" in request.path else "shared"


def document_json(document: Document) -> dict[str, Any]:
    """The recorded upload answer's shape, with the id as a string."""
    return {
        "id": document.id,
        "employeeId": document.employee_id,
        "name": document.name,
        "documentName": document.name,
        "status": "Created",
        "tags": document.tags,
        "folderId": FOLDER_IDS[document.folder],
        "mimeType": document.content_type,
    }


def fetch(sim: HibobSim, url: str) -> tuple[bytes, str]:
    """Download documentUrl, as HiBob does. Messages never repeat the URL: it is signed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HibobRejection("document.url.invalid", "documentUrl must be an http(s) URL")
    if not sim.allow_remote_fetch and not _is_loopback_host(parts.hostname):
        raise HibobRejection("document.url.notallowed", "The sandbox fetches loopback URLs only")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    try:
        # The scheme is checked above, so S310's file:// concern doesn't apply.
        with opener.open(url, timeout=sim.fetch_timeout_seconds) as answer:
            content = answer.read(DOCUMENT_LIMIT_BYTES + 1)
            content_type = answer.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        raise HibobRejection(
            "document.download.failed", f"Could not download the document: HTTP {exc.code}"
        ) from None
    except (OSError, ValueError, http.client.HTTPException):
        raise HibobRejection(
            "document.download.failed", "Could not download the document: no usable answer"
        ) from None
    if len(content) > DOCUMENT_LIMIT_BYTES:
        raise HibobRejection("validations.document.too.large", "A document is at most 5 MB")
    return content, content_type


def upload_from_url(sim: HibobSim, request: Request) -> Response:
    employee_id = request.params["id"]
    try:
        sim.require_employee(employee_id)
        body = sim.json_body(request)
        if not isinstance(body, dict):
            raise HibobRejection("validations.invalid.body", "The body must be a JSON object")
        name, url, tags = body.get("documentName"), body.get("documentUrl"), body.get("tags", [])
        for field, value in (("documentName", name), ("documentUrl", url)):
            if not isinstance(value, str) or not value.strip():
                raise HibobRejection(
                    "validations.required", f"Field '{field}' is required", args=(field,)
                )
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise HibobRejection("validations.invalid.tags", "tags must be a list of strings")
        content, content_type = fetch(sim, str(url))
        document = sim.add_document(
            employee_id,
            folder=_folder(request),
            name=str(name),
            tags=tags,
            content=content,
            content_type=content_type,
            source="url",
        )
    except HibobRejection as rejection:
        return sim.rejected(rejection)
    sim.audit.document_added(document.employee_id)
    return json_response(200, document_json(document))


def upload_file(sim: HibobSim, request: Request) -> Response:
    employee_id = request.params["id"]
    try:
        sim.require_employee(employee_id)
        boundary = multipart.boundary_of(request.header("Content-Type"))
        if boundary is None:
            raise HibobRejection("validations.invalid.body", "Send multipart/form-data")
        try:
            parts = multipart.parse(request.body, boundary)
        except ValueError as exc:
            raise HibobRejection("validations.invalid.body", str(exc)) from None
        part = next((p for p in parts if p.name == "file"), None)
        if part is None:
            raise HibobRejection("validations.required", "Part 'file' is required", args=("file",))
        document = sim.add_document(
            employee_id,
            folder=_folder(request),
            name=part.filename or "document",
            tags=[],
            content=part.data,
            content_type=part.content_type,
            source="upload",
        )
    except HibobRejection as rejection:
        return sim.rejected(rejection)
    sim.audit.document_added(document.employee_id)
    if sim.upload_answer == "empty":
        return Response(200)
    answer = document_json(document)
    if sim.upload_answer == "no_id":
        del answer["id"]
    return json_response(200, answer)


def list_documents(sim: HibobSim, request: Request) -> Response:
    employee_id = request.params["id"]
    try:
        sim.require_employee(employee_id)
    except HibobRejection as rejection:
        return sim.rejected(rejection)
    documents = sim.documents_of(employee_id)
    rows: list[dict[str, Any]]
    if sim.documents_shape == "client":
        rows = [{"doc": {"id": d.id, "name": d.name, "tags": d.tags}} for d in documents]
    else:
        rows = [
            {"documentName": d.name, "downloadLink": f"{sim.origin}/_sandbox/docs/{d.id}"}
            for d in documents
        ]
    return json_response(200, {"documents": rows})
