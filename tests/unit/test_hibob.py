"""HibobClient against `responses`: create, search, documents, named lists."""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterator

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError

from poller.errors import (
    AuthError,
    EmailAlreadyExists,
    InvalidResponse,
    NotFound,
    PermanentError,
    RetryableError,
)
from poller.models import Document
from poller.sandbox import multipart
from poller.upstream.hibob import HibobClient, parse_named_list, parse_search
from poller.upstream.http import HttpClient

BASE = "http://127.0.0.1:9/v1"
TOKEN = "c2VydmljZTp0b2tlbg=="
SIGNED = "https://files.pinpointhq.com/cv.pdf?X-Amz-Signature=sig-secret"


def sent_json(body: bytes | str | None) -> object:
    assert body is not None
    return json.loads(body)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def make_client(folder: str = "shared") -> HibobClient:
    http = HttpClient(
        "hibob", BASE, headers=HibobClient.headers(TOKEN), sleep=lambda _: None, max_retries=2
    )
    return HibobClient(http, folder=folder)


def test_headers_use_basic_auth() -> None:
    assert HibobClient.headers("abc") == {
        "Authorization": "Basic abc",
        "Accept": "application/json",
    }


# --- create ---------------------------------------------------------------------------

PAYLOAD = {
    "firstName": "Brian",
    "surname": "Farrell",
    "email": "brian.farrell@example.com",
    "work": {"site": "London", "startDate": "2025-03-03"},
}


@pytest.mark.parametrize("answer_id", ["3397352260643062621", 3397352260643062621])
def test_create_employee_returns_id_as_text(
    mocked: responses.RequestsMock, answer_id: object
) -> None:
    mocked.post(f"{BASE}/people", json={"id": answer_id, "firstName": "Brian"})
    assert make_client().create_employee(PAYLOAD) == "3397352260643062621"
    request = mocked.calls[0].request
    assert sent_json(request.body) == PAYLOAD
    assert request.headers["Authorization"] == f"Basic {TOKEN}"


def test_create_employee_email_already_exists(mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{BASE}/people",
        status=400,
        json={"key": "validations.email.alreadyexists", "error": "Email exists"},
    )
    with pytest.raises(EmailAlreadyExists) as info:
        make_client().create_employee(PAYLOAD)
    assert info.value.key == "validations.email.alreadyexists"
    assert len(mocked.calls) == 1


def test_create_employee_email_already_exists_said_in_words(
    mocked: responses.RequestsMock,
) -> None:
    """HiBob's other documented error shape carries no key: its message still says it."""
    mocked.post(
        f"{BASE}/people",
        status=400,
        json={
            "statusCode": 400,
            "error": "Bad Request",
            "message": "Email brian.farrell@example.com already exists",
            "timestamp": "x",
        },
    )
    with pytest.raises(EmailAlreadyExists):
        make_client().create_employee(PAYLOAD)


def test_create_employee_list_value_rejected(mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{BASE}/people",
        status=400,
        json={"key": "validations.list.invalid", "error": "Site Londn not found"},
    )
    with pytest.raises(PermanentError, match="Site Londn not found") as info:
        make_client().create_employee(PAYLOAD)
    assert type(info.value) is PermanentError


def test_create_employee_forbidden_is_never_retried(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/people", status=403, body=b"")
    with pytest.raises(AuthError):
        make_client().create_employee(PAYLOAD)
    assert len(mocked.calls) == 1


def test_create_employee_is_not_retried_once_it_may_have_landed(
    mocked: responses.RequestsMock,
) -> None:
    # The caller searches by email before trying again, so it can tell its own create
    # from an employee who was already there.
    mocked.post(f"{BASE}/people", status=502)
    with pytest.raises(RetryableError):
        make_client().create_employee(PAYLOAD)
    assert len(mocked.calls) == 1


def test_create_employee_is_retried_when_refused(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/people", status=429)
    mocked.post(f"{BASE}/people", json={"id": "1"})
    assert make_client().create_employee(PAYLOAD) == "1"
    assert len(mocked.calls) == 2


def test_create_employee_answer_without_id(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/people", json={"firstName": "Brian"})
    with pytest.raises(InvalidResponse, match="id: missing"):
        make_client().create_employee(PAYLOAD)


# --- search ---------------------------------------------------------------------------


def test_find_by_email_sends_one_normalised_search(mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{BASE}/people/search",
        json={"employees": [{"id": "42", "email": "Brian.Farrell@Example.com"}]},
    )
    assert make_client().find_by_email("  Brian.Farrell@EXAMPLE.com ") == "42"
    assert sent_json(mocked.calls[0].request.body) == {
        "fields": ["root.id", "root.email", "internal.lifecycleStatus"],
        "filters": [
            {
                "fieldPath": "root.email",
                "operator": "equals",
                "values": ["brian.farrell@example.com"],
            }
        ],
        "showInactive": True,
    }


def test_find_by_email_none_when_nobody_matches(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/people/search", json={"employees": []})
    assert make_client().find_by_email("a@example.com") is None


def test_find_by_email_is_retried_on_5xx(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/people/search", status=503)
    mocked.post(f"{BASE}/people/search", json={"employees": [{"id": "7"}]})
    assert make_client().find_by_email("a@example.com") == "7"


def test_find_by_email_bad_request(mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{BASE}/people/search",
        status=400,
        json={"key": "validations.filter", "error": "values must not be empty"},
    )
    with pytest.raises(PermanentError, match="values must not be empty"):
        make_client().find_by_email("a@example.com")


@pytest.mark.parametrize(
    ("employees", "found"),
    [
        ([{"/root/id": {"value": "9"}, "/root/email": {"value": "A@Example.com"}}], "9"),
        ([{"/root/id": {"value": 9}}], "9"),
        ([{"id": "1", "email": "other@example.com"}, {"id": "2", "email": "a@example.com"}], "2"),
        ([{"id": "3", "email": "a@example.com.sbx"}], "3"),  # HiBob sandbox suffix
        ([{"id": "4", "email": "other@example.com"}], None),
        ([{"email": "a@example.com"}], None),  # no id anywhere: nothing to adopt
    ],
)
def test_parse_search_shapes(employees: list[object], found: str | None) -> None:
    assert parse_search({"employees": employees}, "a@example.com") == found


def test_parse_search_requires_employees() -> None:
    with pytest.raises(InvalidResponse, match="employees: missing"):
        parse_search({"people": []}, "a@example.com")


# --- documents ------------------------------------------------------------------------


def test_list_documents_spec_shape(mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/docs/people/42",
        json={
            "documents": [
                {"documentName": "CV - Brian Farrell.pdf", "downloadLink": "https://x/y?s=1"}
            ]
        },
    )
    assert make_client().list_documents("42") == [Document(None, "CV - Brian Farrell.pdf")]


def test_list_documents_client_shape(mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/docs/people/42",
        json={
            "documents": [
                {"doc": {"id": 123, "name": "CV - Brian Farrell.pdf", "tags": ["CV"]}},
                {"doc": {"id": "124", "name": "Contract.pdf", "tags": None}},
            ]
        },
    )
    assert make_client().list_documents("42") == [
        Document("123", "CV - Brian Farrell.pdf", ("CV",)),
        Document("124", "Contract.pdf"),
    ]


def test_list_documents_item_of_neither_shape(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/docs/people/42", json={"documents": [{"doc": {"name": "a"}}, {"x": 1}]})
    with pytest.raises(InvalidResponse, match=r"documents\[1\]: neither doc.name nor documentName"):
        make_client().list_documents("42")


def test_list_documents_unknown_employee(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/docs/people/42", status=404, body=b"")
    with pytest.raises(NotFound):
        make_client().list_documents("42")


def test_upload_document_url(mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{BASE}/docs/people/42/confidential",
        json={"id": 15587714, "documentName": "CV - Brian Farrell.pdf"},
    )
    doc_id = make_client("confidential").upload_document_url(
        "42", "CV - Brian Farrell.pdf", SIGNED, ["CV"]
    )
    assert doc_id == "15587714"
    assert sent_json(mocked.calls[0].request.body) == {
        "documentName": "CV - Brian Farrell.pdf",
        "documentUrl": SIGNED,
        "tags": ["CV"],
    }


def test_upload_document_url_answer_with_a_string_id(mocked: responses.RequestsMock) -> None:
    # hibob.md's recorded answer: the id is a string there.
    mocked.post(
        f"{BASE}/docs/people/3397352260643062621/shared",
        json={
            "id": "15587714",
            "employeeId": "3397352260643062621",
            "name": "cv_pdf",
            "documentName": "cv_pdf",
            "status": "Created",
            "tags": [],
            "folderId": 1047097,
            "mimeType": "application/pdf",
        },
    )
    assert make_client().upload_document_url("3397352260643062621", "cv_pdf", SIGNED, []) == (
        "15587714"
    )


LISTED = {
    "documents": [
        {"doc": {"id": "11", "name": "Contract.pdf"}},
        {"doc": {"id": "12", "name": "CV - B F.pdf", "tags": ["CV"]}},
    ]
}


@pytest.mark.parametrize(
    "answer",
    [{"body": b""}, {"json": {}}, {"json": {"status": "Created"}}],
    ids=["empty", "empty object", "no id"],
)
def test_upload_file_answer_without_an_id_finds_the_document_by_name(
    mocked: responses.RequestsMock, answer: dict[str, object]
) -> None:
    """The upload answer's body is undocumented: a 200 without an id is success."""
    mocked.post(f"{BASE}/docs/people/42/shared/upload", status=200, **answer)  # type: ignore[arg-type]
    mocked.get(f"{BASE}/docs/people/42", json=LISTED)
    doc_id = make_client().upload_document_file(
        "42", "CV - B F.pdf", io.BytesIO(b"%PDF-1.4"), "application/pdf"
    )
    assert doc_id == "12"
    assert len(mocked.calls) == 2  # one upload, one listing: never a second upload


def test_upload_answer_without_an_id_and_a_listing_without_ids(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(f"{BASE}/docs/people/42/shared", body=b"")
    mocked.get(
        f"{BASE}/docs/people/42",
        json={"documents": [{"documentName": "CV - B F.pdf", "downloadLink": "https://x/y"}]},
    )
    assert make_client().upload_document_url("42", "CV - B F.pdf", SIGNED, []) is None


def test_upload_2xx_without_the_document_listed_is_retryable(
    mocked: responses.RequestsMock,
) -> None:
    """A 2xx that stored nothing (an SSO page, say): the row retries, and lists first."""
    mocked.post(
        f"{BASE}/docs/people/42/shared/upload",
        body=b"<html>sign in</html>",
        content_type="text/html",
    )
    mocked.get(f"{BASE}/docs/people/42", json={"documents": []})
    with pytest.raises(RetryableError, match=r"no document named 'CV\.pdf' is listed"):
        make_client().upload_document_file("42", "CV.pdf", io.BytesIO(b"%PDF"), "application/pdf")


def test_upload_document_url_not_retried_and_link_not_echoed(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(
        f"{BASE}/docs/people/42/shared", status=502, json={"error": f"could not fetch {SIGNED}"}
    )
    with pytest.raises(RetryableError) as info:
        make_client().upload_document_url("42", "CV.pdf", SIGNED, [])
    assert len(mocked.calls) == 1
    assert "sig-secret" not in str(info.value)


def test_upload_document_file_multipart(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/docs/people/42/shared/upload", json={"id": 77})
    with tempfile.TemporaryFile() as cv:
        cv.write(b"%PDF-1.4 x")  # left at its end: the upload reads from the start anyway
        doc_id = make_client().upload_document_file("42", "CV - B F.pdf", cv, "application/pdf")
    assert doc_id == "77"
    request = mocked.calls[0].request
    body = request.body
    assert isinstance(body, bytes)
    # A streamed body of known length: a Content-Length, not chunked.
    assert request.headers["Content-Length"] == str(len(body))
    assert "Transfer-Encoding" not in request.headers
    boundary = multipart.boundary_of(request.headers["Content-Type"])
    assert boundary is not None
    assert (
        body
        == (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="CV - B F.pdf"'
            f"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 x\r\n--{boundary}--\r\n"
        ).encode()
    )
    [part] = multipart.parse(body, boundary)
    assert (part.name, part.filename, part.content_type, part.data) == (
        "file",
        "CV - B F.pdf",
        "application/pdf",
        b"%PDF-1.4 x",
    )


def test_upload_document_file_names_the_part_as_requests_files_did() -> None:
    """The same part headers as the former ``files={"file": (name, content, type)}``."""
    name = 'CV - Zoë "Z" Ng.docx'
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    bodies = []
    with responses.RequestsMock() as mocked:
        mocked.post(f"{BASE}/docs/people/42/shared/upload", json={"id": 1})
        make_client().upload_document_file("42", name, io.BytesIO(b"PK\x03\x04"), docx)
        mocked.post(f"{BASE}/x", json={})
        requests.post(f"{BASE}/x", files={"file": (name, b"PK\x03\x04", docx)}, timeout=1)
        for call in mocked.calls:
            body = call.request.body
            assert isinstance(body, bytes)
            boundary = multipart.boundary_of(call.request.headers["Content-Type"])
            assert boundary is not None
            bodies.append(body.replace(boundary.encode(), b"BOUNDARY"))
    assert bodies[0] == bodies[1]


def test_upload_document_file_refused_connection_sends_the_whole_body_again(
    mocked: responses.RequestsMock,
) -> None:
    """Refused before delivery: retried, with a fresh body read from the file's first byte
    (``responses`` reads the whole body on every attempt, the failed one included)."""
    upload = f"{BASE}/docs/people/42/shared/upload"
    refused = requests.ConnectionError(
        MaxRetryError(None, "/x", NewConnectionError(None, "[Errno 111] Connection refused"))
    )  # type: ignore[arg-type]
    mocked.post(upload, body=refused)
    mocked.post(upload, json={"id": 78})
    content = b"%PDF-1.4\n" + bytes(range(256)) * 1000
    with tempfile.TemporaryFile() as cv:
        cv.write(content)
        assert make_client().upload_document_file("42", "cv.pdf", cv, "application/pdf") == "78"
    assert len(mocked.calls) == 2
    for call in mocked.calls:
        body = call.request.body
        assert isinstance(body, bytes)
        assert call.request.headers["Content-Length"] == str(len(body))
        boundary = multipart.boundary_of(call.request.headers["Content-Type"])
        assert boundary is not None
        [part] = multipart.parse(body, boundary)
        assert (part.name, part.filename, part.data) == ("file", "cv.pdf", content)


def test_upload_document_file_not_retried(mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{BASE}/docs/people/42/shared/upload", body=requests.exceptions.ReadTimeout("slow")
    )
    with pytest.raises(RetryableError, match="read timed out"):
        make_client().upload_document_file("42", "a.pdf", io.BytesIO(b"%PDF"), "application/pdf")
    assert len(mocked.calls) == 1


def test_upload_document_too_large_for_hibob(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/docs/people/42/shared/upload", status=413, body=b"")
    with pytest.raises(PermanentError):
        make_client().upload_document_file("42", "a.pdf", io.BytesIO(b"%PDF"), "application/pdf")


# --- named lists ----------------------------------------------------------------------


def test_named_list_flattens_and_skips_archived(mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/company/named-lists/site",
        json={
            "name": "site",
            "items": [
                {
                    "id": "1",
                    "name": "London",
                    "archived": False,
                    "children": [
                        {"id": "2", "name": "London - Soho", "archived": False, "children": []},
                        {"id": "3", "name": "London - Old", "archived": True, "children": []},
                    ],
                },
                {
                    "id": "4",
                    "name": "Paris",
                    "archived": True,
                    "children": [{"id": "5", "name": "Paris - Left Bank", "archived": False}],
                },
                {"id": "6", "name": "New York"},
                {"id": "7", "name": "London"},
            ],
        },
    )
    assert make_client().named_list("site") == ["London", "London - Soho", "New York"]


@pytest.mark.parametrize("keys", [("items",), ("values",), ("items", "values")])
def test_named_list_reads_items_else_values(keys: tuple[str, ...]) -> None:
    """The reference documents `items`; the live answer repeats them under `values`."""
    items = [{"id": 208751, "value": "London", "name": "London", "archived": False, "children": []}]
    assert parse_named_list({"name": "site", **dict.fromkeys(keys, items)}) == ["London"]


def test_named_list_with_neither_key_is_invalid() -> None:
    with pytest.raises(InvalidResponse, match="neither items nor values"):
        parse_named_list({"name": "site"})


def test_named_list_quotes_its_name(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/company/named-lists/a%2Fb", status=404)
    with pytest.raises(NotFound):
        make_client().named_list("a/b")


def test_named_list_deep_tree_is_flattened_iteratively() -> None:
    item: dict[str, object] = {"name": "leaf"}
    for depth in range(60):
        item = {"name": f"n{depth}", "children": [item]}
    names = parse_named_list({"items": [item]})
    assert len(names) == 61 and names[-1] == "leaf"


def test_named_list_item_without_name() -> None:
    with pytest.raises(InvalidResponse, match=r"items\[0\]\.children\[0\]\.name: missing"):
        parse_named_list({"items": [{"name": "a", "children": [{"id": "x"}]}]})


def test_absurdly_long_id_is_invalid(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/people", json={"id": "9" * 500})
    with pytest.raises(InvalidResponse, match="id: too long"):
        make_client().create_employee(PAYLOAD)
