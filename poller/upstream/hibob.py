"""HiBob client: create an employee, find one by email, documents, company lists.

Built against /shared/api/hibob.md. The parse_* functions are pure (body -> values) so
they can be tested, and fuzzed, without HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import IO, Any
from urllib.parse import quote

import structlog

from poller.errors import EmailAlreadyExists, InvalidResponse, PermanentError, RetryableError
from poller.models import Document
from poller.upstream.http import Answer, HttpClient, StreamedBody
from poller.upstream.http_errors import parse_json
from poller.upstream.wire import (
    DocumentsAnswer,
    EmployeeFields,
    IdAnswer,
    ListItem,
    NamedList,
    SearchAnswer,
    validate,
)

log = structlog.get_logger("poller.hibob")

API = "hibob"
ENDPOINT_CREATE = "POST /people"
ENDPOINT_SEARCH = "POST /people/search"
ENDPOINT_DOCS_LIST = "GET /docs/people/{id}"
ENDPOINT_DOCS_URL = "POST /docs/people/{id}/{folder}"
ENDPOINT_DOCS_UPLOAD = "POST /docs/people/{id}/{folder}/upload"
ENDPOINT_NAMED_LIST = "GET /company/named-lists/{name}"
ENDPOINT_START_DATE = "POST /employees/{id}/start-date"
ENDPOINT_UPDATE = "PUT /people/{id}"
# For pacer configuration: the writes after a hire (hibob.update_per_minute).
UPDATE_ENDPOINTS = (ENDPOINT_START_DATE, ENDPOINT_UPDATE)
# What a read-back asks the search for (answered keyed by path: "/root/firstName", ...).
READ_BACK = ("root.firstName", "root.surname", "work.startDate")
# For pacer configuration: the endpoints HiBob's "document endpoints" limit covers.
DOCUMENT_ENDPOINTS = (ENDPOINT_DOCS_LIST, ENDPOINT_DOCS_URL, ENDPOINT_DOCS_UPLOAD)
# HiBob's sandbox stores every email with this suffix appended.
SANDBOX_EMAIL_SUFFIX = ".sbx"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def parse_id(body: object, endpoint: str) -> str:
    """``{"id": ...}``; a numeric id (documents) becomes text."""
    return validate(IdAnswer, body, api=API, endpoint=endpoint).id


def parse_search(body: object, email: str) -> str | None:
    """The id of the first employee whose email matches, ignoring case. An answer that
    omits the email is trusted: the request filtered on it."""
    answer = validate(SearchAnswer, body, api=API, endpoint=ENDPOINT_SEARCH)
    wanted = normalize_email(email)
    for employee in answer.employees:
        found_id = employee.id or _text(employee.root_id.value if employee.root_id else None)
        found_email = employee.email or _text(
            employee.root_email.value if employee.root_email else None
        )
        if not found_id:
            continue
        if found_email is None or normalize_email(found_email) in (
            wanted,
            wanted + SANDBOX_EMAIL_SUFFIX,
        ):
            return found_id
    return None


def _text(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value) or None


def parse_documents(body: object) -> list[Document]:
    """Both listing shapes: spec ``documentName`` items and clients' ``doc`` items."""
    answer = validate(DocumentsAnswer, body, api=API, endpoint=ENDPOINT_DOCS_LIST)
    documents: list[Document] = []
    for i, item in enumerate(answer.documents):
        if item.doc is not None:
            tags = item.doc.tags or ()
            documents.append(Document(id=item.doc.id, name=item.doc.name, tags=tuple(tags)))
        elif item.document_name is not None:
            documents.append(
                Document(id=item.id, name=item.document_name, tags=tuple(item.tags or ()))
            )
        else:
            raise InvalidResponse(
                f"documents[{i}]: neither doc.name nor documentName",
                api=API,
                endpoint=ENDPOINT_DOCS_LIST,
                status=200,
            )
    return documents


def parse_named_list(body: object) -> list[str]:
    """Names of the non-archived items, children flattened depth-first, without repeats.
    An archived item hides its children too. Items are read from ``items`` (the reference),
    else from ``values`` (the live answer repeats them there)."""
    answer = validate(NamedList, body, api=API, endpoint=ENDPOINT_NAMED_LIST)
    items = answer.items if answer.items is not None else answer.values
    if items is None:
        raise InvalidResponse(
            "neither items nor values", api=API, endpoint=ENDPOINT_NAMED_LIST, status=200
        )
    names: dict[str, None] = {}
    todo: list[ListItem] = list(reversed(items))
    while todo:  # iterative: a deep tree must not hit the recursion limit
        item = todo.pop()
        if item.archived:
            continue
        names.setdefault(item.name, None)
        todo.extend(reversed(item.children))
    return list(names)


def parse_employee_fields(body: object, employee_id: str) -> dict[str, str] | None:
    """The read-back fields (firstName, surname, startDate) of the employee with this id, as
    text, from a search answer; None when the answer doesn't hold that employee."""
    answer = validate(EmployeeFields, body, api=API, endpoint=ENDPOINT_SEARCH)
    for employee in answer.employees:
        found_id = employee.id or _text(employee.root_id.value if employee.root_id else None)
        if found_id != employee_id:
            continue
        values = {
            "firstName": employee.first_name,
            "surname": employee.surname,
            "startDate": employee.start_date,
        }
        return {k: _text(v.value) or "" if v else "" for k, v in values.items()}
    return None


class HibobClient:
    def __init__(self, http: HttpClient, *, folder: str = "shared") -> None:
        self._http = http
        self._folder = quote(folder, safe="")

    @staticmethod
    def headers(base64_token: str) -> dict[str, str]:
        return {"Authorization": f"Basic {base64_token}", "Accept": "application/json"}

    def create_employee(self, body: dict[str, Any]) -> str:
        """Create the employee; returns the id. Raises EmailAlreadyExists when HiBob has
        the email. Not retried here after an answer that may hide a landed write (5xx, read
        timeout): the caller searches by email first, and so can tell its own create from
        an employee who was already there."""
        try:
            resp = self._http.request(
                "POST", "/people", endpoint=ENDPOINT_CREATE, idempotent=False, json=body
            )
        except EmailAlreadyExists:
            raise
        except PermanentError as exc:
            # A body shape without the key (e.g. {"statusCode", "error", "message"}) still
            # says so in words.
            text = exc.message.casefold()
            if exc.status != 400 or "already exist" not in text or "email" not in text:
                raise
            error = EmailAlreadyExists(
                exc.message, api=API, endpoint=ENDPOINT_CREATE, status=400, key=exc.key
            )
            raise error from None
        return parse_id(parse_json(resp, API, ENDPOINT_CREATE), ENDPOINT_CREATE)

    def find_by_email(self, email: str) -> str | None:
        """The id of the employee (active or not) with this email, or None. Mind HiBob's
        read-after-write lag: a just-created employee may not show for ~20 s."""
        wanted = normalize_email(email)
        body = {
            "fields": ["root.id", "root.email", "internal.lifecycleStatus"],
            "filters": [{"fieldPath": "root.email", "operator": "equals", "values": [wanted]}],
            "showInactive": True,
        }
        resp = self._http.request(
            "POST", "/people/search", endpoint=ENDPOINT_SEARCH, idempotent=True, json=body
        )
        return parse_search(parse_json(resp, API, ENDPOINT_SEARCH), wanted)

    def list_documents(self, employee_id: str) -> list[Document]:
        resp = self._http.request(
            "GET", f"/docs/people/{quote(employee_id, safe='')}", endpoint=ENDPOINT_DOCS_LIST
        )
        return parse_documents(parse_json(resp, API, ENDPOINT_DOCS_LIST))

    def _uploaded(
        self, employee_id: str, name: str, endpoint: str, send: Callable[[], Answer]
    ) -> str | None:
        """Send an upload; the new document's id, or None when HiBob took it but its id is
        unknown. The upload answer's body is not documented: a 2xx with no body or no id is
        success, and the document is then found by the exact name that was sent, once."""
        try:
            return parse_id(parse_json(send(), API, endpoint), endpoint)
        except InvalidResponse as exc:
            if exc.status is None or not 200 <= exc.status < 300:
                raise
            why, status = exc.message, exc.status
        for doc in reversed(self.list_documents(employee_id)):
            if doc.name == name:
                log.info("hibob.document_found_by_name", endpoint=endpoint, answer=why)
                return doc.id
        # Not there: the 2xx was not an upload (a proxy's page?). Nothing to duplicate, so
        # the row retries, and lists the documents again before any new upload.
        raise RetryableError(
            f"HiBob answered 2xx ({why}) but no document named {name!r} is listed",
            api=API,
            endpoint=endpoint,
            status=status,
        )

    def upload_document_url(
        self, employee_id: str, name: str, url: str, tags: Sequence[str]
    ) -> str | None:
        """HiBob fetches ``url`` itself. Not retried once it may have arrived: a second
        upload makes a second document."""
        return self._uploaded(
            employee_id,
            name,
            ENDPOINT_DOCS_URL,
            lambda: self._http.request(
                "POST",
                f"/docs/people/{quote(employee_id, safe='')}/{self._folder}",
                endpoint=ENDPOINT_DOCS_URL,
                idempotent=False,
                json={"documentName": name, "documentUrl": url, "tags": list(tags)},
            ),
        )

    def upload_document_file(
        self, employee_id: str, name: str, file: IO[bytes], content_type: str
    ) -> str | None:
        """Upload a seekable binary file as the part "file" of a multipart body, streamed
        from the file as it is sent (with a Content-Length), never held whole in memory."""

        # Imported here: requests_toolbelt's package import costs the CronJob's start-up.
        from requests_toolbelt import MultipartEncoder

        def body() -> StreamedBody:  # one per attempt: a retry sends it all again
            file.seek(0)
            encoder: StreamedBody = MultipartEncoder(fields={"file": (name, file, content_type)})
            return encoder

        return self._uploaded(
            employee_id,
            name,
            ENDPOINT_DOCS_UPLOAD,
            lambda: self._http.request(
                "POST",
                f"/docs/people/{quote(employee_id, safe='')}/{self._folder}/upload",
                endpoint=ENDPOINT_DOCS_UPLOAD,
                idempotent=False,
                data=body,
            ),
        )

    def set_start_date(self, employee_id: str, start_date: str, reason: str) -> None:
        """POST /employees/{id}/start-date: 200 with no body. Not retried once it may have
        arrived: the caller reads the employee back first."""
        self._http.request(
            "POST",
            f"/employees/{quote(employee_id, safe='')}/start-date",
            endpoint=ENDPOINT_START_DATE,
            idempotent=False,
            json={"startDate": start_date, "reason": reason},
        )

    def update_fields(self, employee_id: str, fields: dict[str, str]) -> bool:
        """PUT /people/{id} (PATCH-like: only ``fields``). True when HiBob changed something
        (200); False on 304, which means nothing changed, or a wrong field or shape: the
        caller reads back to tell which. Setting the same values again is harmless."""
        answer = self._http.request(
            "PUT",
            f"/people/{quote(employee_id, safe='')}",
            endpoint=ENDPOINT_UPDATE,
            idempotent=True,
            json=fields,
            accept=frozenset({304}),
        )
        return answer.status_code != 304

    def read_employee(self, employee_id: str) -> dict[str, str] | None:
        """The employee's firstName, surname and startDate as HiBob has them now (reads may
        lag a write by up to 20 s), by one search on root.id; None if not found."""
        body = {
            "fields": ["root.id", *READ_BACK],
            "filters": [{"fieldPath": "root.id", "operator": "equals", "values": [employee_id]}],
            "showInactive": True,
        }
        resp = self._http.request(
            "POST", "/people/search", endpoint=ENDPOINT_SEARCH, idempotent=True, json=body
        )
        return parse_employee_fields(parse_json(resp, API, ENDPOINT_SEARCH), employee_id)

    def named_list(self, name: str) -> list[str]:
        resp = self._http.request(
            "GET", f"/company/named-lists/{quote(name, safe='')}", endpoint=ENDPOINT_NAMED_LIST
        )
        return parse_named_list(parse_json(resp, API, ENDPOINT_NAMED_LIST))
