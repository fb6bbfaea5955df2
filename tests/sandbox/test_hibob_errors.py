"""HiBob's error bodies in every documented shape, and the undocumented file-upload answer."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime

import pytest
import requests

from poller.sandbox import Sandbox

from .helpers import control, employee, start_of_window

Call = Callable[[Sandbox, requests.Session], requests.Response]


def duplicate(sb: Sandbox, bob: requests.Session) -> requests.Response:
    bob.post(f"{sb.hibob_url}/people", json=employee("dup@example.com"))
    return bob.post(f"{sb.hibob_url}/people", json=employee("dup@example.com"))


def bad_title(sb: Sandbox, bob: requests.Session) -> requests.Response:
    return bob.post(f"{sb.hibob_url}/people", json=employee("t@example.com", title="Wizard"))


def unknown_list(sb: Sandbox, bob: requests.Session) -> requests.Response:
    return bob.get(f"{sb.hibob_url}/company/named-lists/nope")


def no_permission(sb: Sandbox, bob: requests.Session) -> requests.Response:
    headers = {"Authorization": f"Basic {sb.hibob_noperm_token}"}
    return requests.post(f"{sb.hibob_url}/people/search", json={}, headers=headers, timeout=5)


def rate_limited(sb: Sandbox, bob: requests.Session) -> requests.Response:
    sb.hibob.set_rate_limit("POST /people/search", 1)
    start_of_window(sb)
    bob.post(f"{sb.hibob_url}/people/search", json={})
    return bob.post(f"{sb.hibob_url}/people/search", json={})


# (request, status, key, words in the message)
Case = tuple[Call, int, str, str]
ERRORS: list[Case] = [
    (duplicate, 400, "validations.email.alreadyexists", "Email dup@example.com already exists"),
    (bad_title, 400, "validations.field.invalid", "'Wizard' is not a valid work.title"),
    (unknown_list, 404, "named-list.not.found", "nope"),
    (no_permission, 403, "permission.denied", "permission"),
    (rate_limited, 429, "rate.limit", "Rate limit"),
]


@pytest.mark.parametrize("case", ERRORS, ids=lambda case: case[0].__name__)
def test_key_error_args_by_default(sb: Sandbox, bob: requests.Session, case: Case) -> None:
    call, status, key, words = case
    assert sb.hibob.config()["error_shape"] == "key_error_args"
    response = call(sb, bob)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"key", "error", "args"}
    assert body["key"] == key and words in body["error"]
    assert isinstance(body["args"], list)


@pytest.mark.parametrize("case", ERRORS, ids=lambda case: case[0].__name__)
def test_key_error_shape(sb: Sandbox, bob: requests.Session, case: Case) -> None:
    call, status, key, words = case
    sb.hibob.configure({"error_shape": "key_error"})
    response = call(sb, bob)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"key", "error"}
    assert body["key"] == key and words in body["error"]


@pytest.mark.parametrize("case", ERRORS, ids=lambda case: case[0].__name__)
def test_goals_shape(sb: Sandbox, bob: requests.Session, case: Case) -> None:
    call, status, _, words = case
    sb.hibob.configure({"error_shape": "goals"})
    response = call(sb, bob)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"statusCode", "error", "message", "timestamp"}
    assert body["statusCode"] == status and words in body["message"]
    assert body["error"] in {"Bad Request", "Not Found", "Forbidden", "Too Many Requests"}
    assert datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).tzinfo is not None


@pytest.mark.parametrize("case", ERRORS, ids=lambda case: case[0].__name__)
def test_empty_shape(sb: Sandbox, bob: requests.Session, case: Case) -> None:
    call, status, _, _ = case
    sb.hibob.configure({"error_shape": "empty"})
    response = call(sb, bob)
    assert response.status_code == status
    assert response.content == b""


@pytest.mark.parametrize("case", ERRORS, ids=lambda case: case[0].__name__)
def test_html_shape(sb: Sandbox, bob: requests.Session, case: Case) -> None:
    call, status, _, _ = case
    sb.hibob.configure({"error_shape": "html"})
    response = call(sb, bob)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.lstrip().startswith("<html>")
    with pytest.raises(ValueError):
        response.json()


@pytest.mark.parametrize("shape", ["key_error_args", "key_error", "goals", "empty", "html"])
def test_401_is_always_empty(sb: Sandbox, shape: str) -> None:
    sb.hibob.configure({"error_shape": shape})
    wrong = base64.b64encode(b"someone:wrong").decode()
    response = requests.post(
        f"{sb.hibob_url}/people", json={}, headers={"Authorization": f"Basic {wrong}"}, timeout=5
    )
    assert response.status_code == 401
    assert response.content == b""


def test_error_shape_over_the_control_plane(sb: Sandbox, bob: requests.Session) -> None:
    assert control(sb, "hibob", "config", {"error_shape": "goals"}).json()["error_shape"] == "goals"
    assert "statusCode" in bad_title(sb, bob).json()
    assert control(sb, "hibob", "config", {"error_shape": "xml"}).status_code == 400


def upload(sb: Sandbox, bob: requests.Session, emp: str, name: str) -> requests.Response:
    return bob.post(
        f"{sb.hibob_url}/docs/people/{emp}/shared/upload",
        files={"file": (name, b"%PDF-1.4 cv", "application/pdf")},
    )


def new_employee(sb: Sandbox, bob: requests.Session) -> str:
    return str(bob.post(f"{sb.hibob_url}/people", json=employee("up@example.com")).json()["id"])


def test_upload_answers_the_document_by_default(sb: Sandbox, bob: requests.Session) -> None:
    emp = new_employee(sb, bob)
    answer = upload(sb, bob, emp, "CV - Up.pdf")
    assert answer.status_code == 200
    body = answer.json()
    assert isinstance(body["id"], str)
    assert (body["employeeId"], body["documentName"]) == (emp, "CV - Up.pdf")
    assert [d.id for d in sb.hibob.documents_of(emp)] == [body["id"]]


@pytest.mark.parametrize("answer", ["empty", "no_id"])
def test_upload_answer_without_an_id_still_stores_it(
    sb: Sandbox, bob: requests.Session, answer: str
) -> None:
    sb.hibob.configure({"upload_answer": answer})
    sb.hibob.set_documents_shape("client")
    emp = new_employee(sb, bob)
    response = upload(sb, bob, emp, "CV - Up.pdf")
    assert response.status_code == 200
    if answer == "empty":
        assert response.content == b""
    else:
        body = response.json()
        assert isinstance(body, dict) and "id" not in body
        assert body["documentName"] == "CV - Up.pdf"
    [stored] = sb.hibob.documents_of(emp)
    listed = bob.get(f"{sb.hibob_url}/docs/people/{emp}").json()["documents"]
    assert listed == [{"doc": {"id": stored.id, "name": "CV - Up.pdf", "tags": []}}]
    assert sb.audit().documents_per_employee() == {emp: 1}


def test_upload_answer_does_not_change_the_url_upload(sb: Sandbox, bob: requests.Session) -> None:
    sb.hibob.configure({"upload_answer": "empty"})
    emp = new_employee(sb, bob)
    download = f"{sb.hibob_origin}/_sandbox/docs/"
    upload(sb, bob, emp, "a.pdf")
    url = download + sb.hibob.documents_of(emp)[0].id
    response = bob.post(
        f"{sb.hibob_url}/docs/people/{emp}/shared",
        json={"documentName": "b.pdf", "documentUrl": url},
    )
    assert response.status_code == 200 and isinstance(response.json()["id"], str)
    assert control(sb, "hibob", "config", {"upload_answer": "nothing"}).status_code == 400
