"""Contract tests for the HiBob simulator, over real loopback HTTP (shared/api/hibob.md)."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import pytest
import requests

from poller.sandbox import Sandbox

from .helpers import employee, search_body, start_of_window


def create(sb: Sandbox, bob: requests.Session, body: Any) -> requests.Response:
    return bob.post(f"{sb.hibob_url}/people", json=body)


def search(sb: Sandbox, bob: requests.Session, body: Any) -> requests.Response:
    return bob.post(f"{sb.hibob_url}/people/search", json=body)


def found_ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["employees"]]


def assert_error(response: requests.Response, status: int, key: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["key"] == key
    return str(body["error"])


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic " + base64.b64encode(b"someone:wrong").decode(), "Basic !!!", "Bearer abc"],
)
def test_bad_credentials_are_401_with_empty_body(sb: Sandbox, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.post(
        f"{sb.hibob_url}/people", json=employee("a@example.com"), headers=headers, timeout=5
    )
    assert response.status_code == 401
    assert response.content == b""


def test_service_user_without_permissions_is_403(sb: Sandbox) -> None:
    headers = {"Authorization": f"Basic {sb.hibob_noperm_token}"}
    response = requests.post(f"{sb.hibob_url}/people/search", json={}, headers=headers, timeout=5)
    assert_error(response, 403, "permission.denied")
    # The fields metadata needs no permissions.
    assert (
        requests.get(
            f"{sb.hibob_url}/company/people/fields", headers=headers, timeout=5
        ).status_code
        == 200
    )


def test_forbidden_toggle(sb: Sandbox, bob: requests.Session) -> None:
    sb.hibob.set_forbidden(True)
    assert_error(create(sb, bob, employee("a@example.com")), 403, "permission.denied")
    sb.hibob.set_forbidden(False)
    assert create(sb, bob, employee("a@example.com")).status_code == 200


def test_create_returns_a_19_digit_string_id(sb: Sandbox, bob: requests.Session) -> None:
    response = create(
        sb,
        bob,
        employee("brian.farrell@example.com", title="Backend Engineer", department="Engineering"),
    )
    assert response.status_code == 200
    new_id = response.json()["id"]
    assert isinstance(new_id, str) and re.fullmatch(r"\d{19}", new_id)
    stored = sb.hibob.employees[new_id]
    assert stored.lifecycle == "hired"
    assert stored.fields["work"]["title"] == "Backend Engineer"


@pytest.mark.parametrize(
    "missing", ["firstName", "surname", "email", "work.site", "work.startDate"]
)
def test_required_fields(sb: Sandbox, bob: requests.Session, missing: str) -> None:
    body = employee("a@example.com")
    if missing.startswith("work."):
        del body["work"][missing.removeprefix("work.")]  # type: ignore[attr-defined]
    else:
        del body[missing]
    assert missing in assert_error(create(sb, bob, body), 400, "validations.required")
    assert sb.audit().employees_created_per_email() == {}


def test_start_date_must_be_iso(sb: Sandbox, bob: requests.Session) -> None:
    body = employee("a@example.com")
    body["work"]["startDate"] = "03/03/2025"  # type: ignore[index]
    assert create(sb, bob, body).status_code == 400


def test_duplicate_email_ignores_case(sb: Sandbox, bob: requests.Session) -> None:
    assert create(sb, bob, employee("dup@example.com")).status_code == 200
    again = create(sb, bob, employee("  DUP@Example.com "))
    assert again.status_code == 400
    assert again.json() == {  # the recorded shape
        "key": "validations.email.alreadyexists",
        "error": "Email DUP@Example.com already exists",
        "args": ["DUP@Example.com"],
    }
    assert sb.audit().employees_created_per_email() == {"dup@example.com": 1}


def test_rehire_email_already_exists(sb: Sandbox, bob: requests.Session) -> None:
    terminated = next(e for e in sb.hibob.employees.values() if e.lifecycle == "terminated")
    body = employee(terminated.email.lower())
    assert_error(create(sb, bob, body), 400, "validations.email.alreadyexists")


@pytest.mark.parametrize(
    "body",
    [
        {"filters": [{"fieldPath": "root.email", "operator": "equals", "values": []}]},
        {"filters": [{"fieldPath": "root.firstName", "operator": "equals", "values": ["x"]}]},
        {"filters": [{"fieldPath": "root.email", "operator": "contains", "values": ["x"]}]},
        {
            "filters": [
                {"fieldPath": "root.id", "operator": "equals", "values": ["1"]},
                {"fieldPath": "root.email", "operator": "equals", "values": ["x"]},
            ]
        },
        {"fields": "root.id"},
        [],
    ],
)
def test_search_rejects_unsupported_queries(sb: Sandbox, bob: requests.Session, body: Any) -> None:
    assert search(sb, bob, body).status_code == 400


def test_search_answer_shape(sb: Sandbox, bob: requests.Session) -> None:
    new_id = create(sb, bob, employee("Shape@Example.com")).json()["id"]
    found = search(sb, bob, search_body("shape@example.com")).json()["employees"]
    assert found == [
        {
            "id": new_id,
            "email": "Shape@Example.com",
            "/root/id": {"value": new_id},
            "/root/email": {"value": "Shape@Example.com"},
            "/internal/lifecycleStatus": {"value": "hired"},
        }
    ]
    by_id = {
        "filters": [{"fieldPath": "root.id", "operator": "equals", "values": [new_id]}],
        "showInactive": True,
    }
    assert found_ids(search(sb, bob, by_id)) == [new_id]


def test_search_needs_show_inactive_for_hired_and_terminated(
    sb: Sandbox, bob: requests.Session
) -> None:
    new_id = create(sb, bob, employee("new@example.com")).json()["id"]
    assert found_ids(search(sb, bob, search_body("new@example.com", show_inactive=False))) == []
    assert found_ids(search(sb, bob, search_body("new@example.com"))) == [new_id]
    everyone = {e.id: e for e in sb.hibob.employees.values()}
    active = found_ids(search(sb, bob, {"showInactive": False}))
    assert set(active) == {i for i, e in everyone.items() if e.lifecycle == "employed"}
    assert set(found_ids(search(sb, bob, {"showInactive": True}))) == set(everyone)


def test_read_after_write_lag(sb: Sandbox, bob: requests.Session) -> None:
    sb.hibob.set_lag(0.5)
    new_id = create(sb, bob, employee("lag@example.com")).json()["id"]
    assert found_ids(search(sb, bob, search_body("lag@example.com"))) == []
    # The email is already taken, even while search can't see it.
    assert create(sb, bob, employee("lag@example.com")).status_code == 400
    sb.clock.advance(0.6)
    assert found_ids(search(sb, bob, search_body("lag@example.com"))) == [new_id]


def test_lag_elapses_in_real_time(sb: Sandbox, bob: requests.Session) -> None:
    sb.hibob.set_lag(0.2)
    create(sb, bob, employee("wait@example.com"))
    assert found_ids(search(sb, bob, search_body("wait@example.com"))) == []
    deadline = time.monotonic() + 5
    while not found_ids(search(sb, bob, search_body("wait@example.com"))):
        assert time.monotonic() < deadline, "the lag never elapsed"
        time.sleep(0.05)


def test_search_is_rate_limited_with_headers(sb: Sandbox, bob: requests.Session) -> None:
    sb.hibob.set_rate_limit("POST /people/search", 3)
    start_of_window(sb)
    remaining = []
    for _ in range(3):
        ok = search(sb, bob, {})
        assert ok.status_code == 200
        assert ok.headers["X-RateLimit-Limit"] == "3"
        remaining.append(ok.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    refused = search(sb, bob, {})
    assert_error(refused, 429, "rate.limit")
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    reset = int(refused.headers["X-RateLimit-Reset"])
    assert sb.clock.epoch() < reset <= sb.clock.epoch() + 60
    assert sb.audit().rate_limited() == 1
    sb.clock.advance(60)  # the next window
    assert search(sb, bob, {}).status_code == 200


def test_default_limits(sb: Sandbox, bob: requests.Session) -> None:
    assert search(sb, bob, {}).headers["X-RateLimit-Limit"] == "50"
    assert "X-RateLimit-Limit" not in create(sb, bob, employee("x@example.com")).headers


def test_refused_create_writes_nothing(sb: Sandbox, bob: requests.Session) -> None:
    sb.hibob.set_rate_limit("POST /people", 1)
    start_of_window(sb)
    assert create(sb, bob, employee("one@example.com")).status_code == 200
    assert create(sb, bob, employee("two@example.com")).status_code == 429
    assert sb.hibob.find_employee("two@example.com") is None


def a_cv_url(sb: Sandbox) -> str:
    with requests.Session() as pp:
        pp.headers["X-API-KEY"] = sb.pinpoint_api_key
        app_id = next(
            i for i in sb.hired_application_ids() if sb.pinpoint.applications[i].attachments
        )
        body = pp.get(
            f"{sb.pinpoint_url}/applications/{app_id}",
            params={"extra_fields[applications]": "attachments"},
        ).json()
    return str(body["data"]["attributes"]["attachments"][0]["url"])


def new_employee(sb: Sandbox, bob: requests.Session) -> str:
    return str(create(sb, bob, employee("docs@example.com")).json()["id"])


def test_document_from_url_really_fetches_it(sb: Sandbox, bob: requests.Session) -> None:
    emp = new_employee(sb, bob)
    url = a_cv_url(sb)
    before = sb.audit().requests("pinpoint", "GET /files/{token}/{filename}")
    response = bob.post(
        f"{sb.hibob_url}/docs/people/{emp}/shared",
        json={"documentName": "CV - Brian Farrell.pdf", "documentUrl": url, "tags": ["CV"]},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert isinstance(answer["id"], str) and answer["id"].isdigit()  # a string, as recorded
    assert answer["employeeId"] == emp and answer["status"] == "Created"
    assert answer["name"] == answer["documentName"] == "CV - Brian Farrell.pdf"
    assert isinstance(answer["folderId"], int)
    assert sb.audit().requests("pinpoint", "GET /files/{token}/{filename}") == before + 1
    [stored] = sb.hibob.documents_of(emp)
    assert (stored.id, stored.content_type) == (answer["id"], answer["mimeType"])
    assert stored.content == requests.get(url, timeout=5).content
    assert stored.tags == ["CV"] and stored.folder == "shared"


def test_document_to_the_confidential_folder(sb: Sandbox, bob: requests.Session) -> None:
    emp = new_employee(sb, bob)
    body = {"documentName": "CV.pdf", "documentUrl": a_cv_url(sb), "tags": []}
    assert bob.post(f"{sb.hibob_url}/docs/people/{emp}/confidential", json=body).status_code == 200
    assert sb.hibob.documents_of(emp)[0].folder == "confidential"


def test_document_url_that_cannot_be_fetched_is_400(sb: Sandbox, bob: requests.Session) -> None:
    emp = new_employee(sb, bob)
    bad_signature = re.sub(r"X-Amz-Signature=\w+", "X-Amz-Signature=00", a_cv_url(sb))
    for url in (
        bad_signature,
        "http://127.0.0.1:9/cv.pdf",
        "ftp://127.0.0.1/cv.pdf",
        "https://example.com/cv.pdf",
    ):
        response = bob.post(
            f"{sb.hibob_url}/docs/people/{emp}/shared",
            json={"documentName": "CV.pdf", "documentUrl": url},
        )
        assert response.status_code == 400
        assert "X-Amz" not in response.text  # the signed URL is never echoed
    assert sb.hibob.documents_of(emp) == []


def test_document_url_fetch_times_out(sb: Sandbox, bob: requests.Session) -> None:
    emp = new_employee(sb, bob)
    url = a_cv_url(sb)
    sb.hibob.configure({"fetch_timeout_seconds": 0.2})
    sb.faults("pinpoint", "GET /files/{token}/{filename}", stall_rate="always", stall_seconds=2)
    started = time.monotonic()
    response = bob.post(
        f"{sb.hibob_url}/docs/people/{emp}/shared",
        json={"documentName": "CV.pdf", "documentUrl": url},
    )
    assert_error(response, 400, "document.download.failed")
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("body", "status"),
    [({"documentUrl": "http://127.0.0.1/x"}, 400), ({"documentName": "CV.pdf"}, 400)],
)
def test_document_from_url_needs_name_and_url(
    sb: Sandbox, bob: requests.Session, body: Any, status: int
) -> None:
    emp = new_employee(sb, bob)
    assert_error(
        bob.post(f"{sb.hibob_url}/docs/people/{emp}/shared", json=body),
        status,
        "validations.required",
    )


def test_documents_of_unknown_employee_are_404(sb: Sandbox, bob: requests.Session) -> None:
    assert bob.get(f"{sb.hibob_url}/docs/people/1234567890123456789").status_code == 404
    upload = bob.post(
        f"{sb.hibob_url}/docs/people/1234567890123456789/shared/upload",
        files={"file": ("cv.pdf", b"%PDF-1.4", "application/pdf")},
    )
    assert upload.status_code == 404


def test_multipart_upload(sb: Sandbox, bob: requests.Session) -> None:
    emp = new_employee(sb, bob)
    content = bytes(range(256)) * 40  # binary-safe
    response = bob.post(
        f"{sb.hibob_url}/docs/people/{emp}/shared/upload",
        files={"file": ("CV - Brian.pdf", content, "application/pdf")},
    )
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["id"], str)
    assert response.json()["documentName"] == "CV - Brian.pdf"
    confidential = bob.post(
        f"{sb.hibob_url}/docs/people/{emp}/confidential/upload",
        files={"file": ("cv.docx", b"PK\x03\x04", "application/octet-stream")},
    )
    assert confidential.status_code == 200
    docs = sb.hibob.documents_of(emp)
    assert [(d.folder, d.content) for d in docs] == [
        ("shared", content),
        ("confidential", b"PK\x03\x04"),
    ]
    assert sb.audit().documents_per_employee() == {emp: 2}


def test_multipart_upload_rejections(sb: Sandbox, bob: requests.Session) -> None:
    emp = new_employee(sb, bob)
    url = f"{sb.hibob_url}/docs/people/{emp}/shared/upload"
    assert bob.post(url, files={"document": ("cv.pdf", b"x")}).status_code == 400
    assert bob.post(url, json={"file": "x"}).status_code == 400
    too_big = bob.post(url, files={"file": ("cv.pdf", b"x" * (5 * 1024 * 1024 + 1))})
    assert too_big.status_code == 413
    way_too_big = bob.post(url, files={"file": ("cv.pdf", b"x" * (7 * 1024 * 1024))})
    assert way_too_big.status_code == 413
    assert sb.hibob.documents_of(emp) == []


def test_documents_listing_in_both_shapes(sb: Sandbox, bob: requests.Session) -> None:
    emp = new_employee(sb, bob)
    doc_id = bob.post(
        f"{sb.hibob_url}/docs/people/{emp}/shared/upload",
        files={"file": ("CV.pdf", b"%PDF-1.4 cv", "application/pdf")},
    ).json()["id"]
    spec = bob.get(f"{sb.hibob_url}/docs/people/{emp}").json()
    [row] = spec["documents"]
    assert set(row) == {"documentName", "downloadLink"} and row["documentName"] == "CV.pdf"
    assert requests.get(row["downloadLink"], timeout=5).content == b"%PDF-1.4 cv"

    sb.hibob.set_documents_shape("client")
    client = bob.get(f"{sb.hibob_url}/docs/people/{emp}").json()
    assert client == {"documents": [{"doc": {"id": doc_id, "name": "CV.pdf", "tags": []}}]}
    assert isinstance(doc_id, str)
