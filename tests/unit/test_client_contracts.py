"""What each client call sends and how it is counted: the method, the path (ids quoted, even
a '/' in one), the endpoint name its pacing and metrics go by, its retry rule, and the API and
endpoint an unreadable answer is blamed on. Against `responses`."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from poller import metrics
from poller.errors import InvalidResponse, PermanentError, RetryableError
from poller.upstream import hibob
from poller.upstream.hibob import HibobClient, parse_documents, parse_employee_fields, parse_search
from poller.upstream.http import HttpClient
from poller.upstream.pinpoint import PinpointClient

HIBOB = "http://127.0.0.1:9/v1"
PINPOINT = "http://127.0.0.1:9/api/v1"
ODD_ID = "X/1"  # quoted whole: a '/' in an id never reaches another path


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def hibob_client() -> HibobClient:
    http = HttpClient("hibob", HIBOB, headers={}, sleep=lambda _: None, max_retries=2)
    return HibobClient(http)


def counted(api: str, endpoint: str, status: str) -> float:
    labels = {"api": api, "endpoint": endpoint, "status": status}
    return metrics.REGISTRY.get_sample_value("poller_upstream_requests_total", labels) or 0.0


CALLS: dict[str, tuple[str, str, str, Callable[[HibobClient], Any]]] = {
    "documents": (
        "GET",
        "/docs/people/X%2F1",
        hibob.ENDPOINT_DOCS_LIST,
        lambda c: c.list_documents(ODD_ID),
    ),
    "search": (
        "POST",
        "/people/search",
        hibob.ENDPOINT_SEARCH,
        lambda c: c.find_by_email("a@b.example"),
    ),
    "by URL": (
        "POST",
        "/docs/people/X%2F1/shared",
        hibob.ENDPOINT_DOCS_URL,
        lambda c: c.upload_document_url(ODD_ID, "CV.pdf", "https://x.example/cv.pdf", ["CV"]),
    ),
    "upload": (
        "POST",
        "/docs/people/X%2F1/shared/upload",
        hibob.ENDPOINT_DOCS_UPLOAD,
        lambda c: c.upload_document_file(ODD_ID, "CV.pdf", io.BytesIO(b"%PDF"), "application/pdf"),
    ),
    "start date": (
        "POST",
        "/employees/X%2F1/start-date",
        hibob.ENDPOINT_START_DATE,
        lambda c: c.set_start_date(ODD_ID, "2026-04-01", "moved"),
    ),
    "fields": (
        "PUT",
        "/people/X%2F1",
        hibob.ENDPOINT_UPDATE,
        lambda c: c.update_fields(ODD_ID, {"surname": "K"}),
    ),
    "read back": (
        "POST",
        "/people/search",
        hibob.ENDPOINT_SEARCH,
        lambda c: c.read_employee(ODD_ID),
    ),
}
# Writes that may have landed are never sent twice by the client (the flow looks first).
NOT_RETRIED = {"by URL", "upload", "start date"}


@pytest.mark.parametrize("call", list(CALLS))
def test_each_hibob_call_goes_where_it_says_and_is_counted_by_its_endpoint(
    mocked: responses.RequestsMock, call: str
) -> None:
    method, path, endpoint, run = CALLS[call]
    mocked.add(method, f"{HIBOB}{path}", status=503, body="<html>down</html>")
    if call not in NOT_RETRIED:  # 503 then a good answer: retried, as it changes nothing twice
        mocked.add(method, f"{HIBOB}{path}", json={"documents": [], "employees": [], "id": "9"})
    before = counted("hibob", endpoint, "503")
    if call in NOT_RETRIED:
        with pytest.raises(RetryableError):
            run(hibob_client())
    else:
        run(hibob_client())
    assert counted("hibob", endpoint, "503") - before == 1
    assert mocked.calls[0].request.url == f"{HIBOB}{path}"
    assert mocked.calls[0].request.method == method


# An answer a read can't use: (body, what the error says of it).
UNREADABLE = {
    "wrong shape": (json.dumps({"unexpected": True}), ": missing"),
    "not JSON": ("<html>a proxy's page</html>", "not valid JSON"),
}


@pytest.mark.parametrize("answer", list(UNREADABLE))
@pytest.mark.parametrize("call", ["documents", "search", "read back"])
def test_an_unreadable_answer_names_hibob_and_the_endpoint(
    mocked: responses.RequestsMock, call: str, answer: str
) -> None:
    method, path, endpoint, run = CALLS[call]
    body, why = UNREADABLE[answer]
    mocked.add(method, f"{HIBOB}{path}", body=body, content_type="application/json")
    with pytest.raises(InvalidResponse) as info:
        run(hibob_client())
    assert (info.value.api, info.value.endpoint, info.value.status) == ("hibob", endpoint, 200)
    assert why in info.value.message


def test_a_document_item_of_neither_shape_is_named() -> None:
    with pytest.raises(InvalidResponse) as info:
        parse_documents({"documents": [{"documentName": "a"}, {"other": 1}]})
    assert (info.value.api, info.value.endpoint, info.value.status) == (
        "hibob",
        hibob.ENDPOINT_DOCS_LIST,
        200,
    )
    assert "documents[1]" in info.value.message


def test_documents_of_the_spec_shape_keep_their_id_and_tags() -> None:
    (doc,) = parse_documents({"documents": [{"documentName": "CV.pdf", "id": 7, "tags": ["CV"]}]})
    assert (doc.id, doc.name, doc.tags) == ("7", "CV.pdf", ("CV",))


def test_search_skips_employees_without_an_id_or_of_another_email() -> None:
    body = {
        "employees": [
            {"email": "a@b.example"},  # no id at all: skipped, not the end of the search
            {"id": "1", "/root/email": {"value": "other@b.example"}},
            {"id": "2", "/root/email": {"value": "A@B.example"}},
        ]
    }
    assert parse_search(body, "a@b.example") == "2"


def test_the_read_back_asks_by_id_for_names_and_start_date(mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{HIBOB}/people/search",
        json={
            "employees": [
                {"id": "1", "/root/firstName": {"value": "Someone"}},
                {
                    "/root/id": {"value": 42},
                    "/root/firstName": {"value": "Ada"},
                    "/work/startDate": {"value": "2026-04-01"},
                },
            ]
        },
    )
    assert hibob_client().read_employee("42") == {
        "firstName": "Ada",
        "surname": "",
        "startDate": "2026-04-01",
    }
    asked = json.loads(mocked.calls[0].request.body or b"")
    assert asked == {
        "fields": ["root.id", "root.firstName", "root.surname", "work.startDate"],
        "filters": [{"fieldPath": "root.id", "operator": "equals", "values": ["42"]}],
        "showInactive": True,
    }
    assert parse_employee_fields({"employees": []}, "42") is None


def test_writes_send_what_hibob_documents(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{HIBOB}/employees/42/start-date", body="")
    mocked.put(f"{HIBOB}/people/42", body="")
    mocked.put(f"{HIBOB}/people/42", status=304)
    client = hibob_client()
    client.set_start_date("42", "2026-04-01", "Start date changed in Pinpoint (application 7)")
    assert client.update_fields("42", {"firstName": "Ada", "surname": "King"}) is True
    assert client.update_fields("42", {"firstName": "Ada", "surname": "King"}) is False  # 304
    bodies = [json.loads(c.request.body or b"") for c in mocked.calls]
    assert bodies == [
        {"startDate": "2026-04-01", "reason": "Start date changed in Pinpoint (application 7)"},
        {"firstName": "Ada", "surname": "King"},
        {"firstName": "Ada", "surname": "King"},
    ]


def pinpoint_client() -> PinpointClient:
    http = HttpClient("pinpoint", PINPOINT, headers={}, sleep=lambda _: None, max_retries=0)
    return PinpointClient(http)


def test_a_sample_is_one_row_of_any_visibility(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{PINPOINT}/applications", json={"data": []})
    mocked.get(
        f"{PINPOINT}/applications",
        json={
            "data": [
                {
                    "id": "5",
                    "type": "applications",
                    "attributes": {"updated_at": "2026-01-01T00:00:00Z"},
                }
            ]
        },
    )
    client = pinpoint_client()
    assert client.sample_application_ids() == []
    assert client.sample_application_ids(include="offers") == ["5"]
    first, second = (dict(parse_qsl(urlsplit(c.request.url or "").query)) for c in mocked.calls)
    assert first == {
        "filter[job_visibility]": "external,internal,private_job,confidential",
        "page[size]": "1",
        "page[number]": "1",
    }
    assert second == {**first, "include": "offers"}


def test_a_refusal_of_a_parameter_not_sent_is_read_from_its_words(
    mocked: responses.RequestsMock,
) -> None:
    """A 400 that blames a parameter the listing didn't send: its text still names one."""
    refused = {
        "errors": [
            {"title": "Bad", "detail": "sort is not allowed", "source": {"parameter": "page[size]"}}
        ]
    }
    mocked.get(f"{PINPOINT}/applications", status=400, json=refused)
    mocked.get(f"{PINPOINT}/applications", json={"data": []})
    listing = pinpoint_client().list_hired(None, hired_stage_ids=frozenset)
    assert [r.parameter for r in listing.refused] == ["sort"]


def test_a_refused_visibility_filter_keeps_pinpoints_answer(mocked: responses.RequestsMock) -> None:
    refused = {
        "errors": [
            {
                "code": "bad_filter",
                "title": "Bad",
                "detail": "no",
                "source": {"parameter": "filter[job_visibility]"},
            }
        ]
    }
    mocked.get(f"{PINPOINT}/applications", status=400, json=refused)
    with pytest.raises(PermanentError) as info:
        pinpoint_client().list_hired(None, hired_stage_ids=frozenset)
    error = info.value
    assert (error.api, error.endpoint, error.status, error.key) == (
        "pinpoint",
        "GET /applications",
        400,
        "bad_filter",
    )
    assert error.message == (
        "Pinpoint refused filter[job_visibility] (Bad: no); without it hires at confidential jobs "
        "can't be listed, so the listing stops here"
    )


def test_a_sample_that_is_not_json_names_pinpoint_and_the_endpoint(
    mocked: responses.RequestsMock,
) -> None:
    body, why = UNREADABLE["not JSON"]
    mocked.get(f"{PINPOINT}/applications", body=body)
    with pytest.raises(InvalidResponse) as info:
        pinpoint_client().sample_application_ids()
    assert (info.value.api, info.value.endpoint, info.value.status) == (
        "pinpoint",
        "GET /applications",
        200,
    )
    assert why in info.value.message


@pytest.mark.parametrize(
    ("path", "endpoint", "run"),
    [
        (
            "/docs/people/X%2F1/shared/upload",
            hibob.ENDPOINT_DOCS_UPLOAD,
            lambda c: c.upload_document_file(
                ODD_ID, "CV.pdf", io.BytesIO(b"%PDF"), "application/pdf"
            ),
        ),
        (
            "/docs/people/X%2F1/shared",
            hibob.ENDPOINT_DOCS_URL,
            lambda c: c.upload_document_url(ODD_ID, "CV.pdf", "https://x.example/cv.pdf", ["CV"]),
        ),
    ],
)
def test_a_2xx_upload_whose_document_is_not_listed_is_retried_and_blames_that_upload(
    mocked: responses.RequestsMock, path: str, endpoint: str, run: Callable[[HibobClient], Any]
) -> None:
    """An upload answered 2xx without an id, whose document HiBob doesn't list: nothing to
    duplicate, so the row retries; the error names the upload that answered."""
    mocked.post(f"{HIBOB}{path}", body="")
    mocked.get(f"{HIBOB}/docs/people/X%2F1", json={"documents": []})
    with pytest.raises(RetryableError) as info:
        run(hibob_client())
    assert (info.value.api, info.value.endpoint, info.value.status) == ("hibob", endpoint, 200)
    assert "no document named 'CV.pdf' is listed" in info.value.message


def test_the_read_back_skips_employees_without_any_id_and_empties_null_values() -> None:
    body = {
        "employees": [
            {"/root/firstName": {"value": "No id at all"}},
            {
                "id": "42",
                "/root/firstName": {"value": "Ada"},
                "/root/surname": {"value": None},
                "/work/startDate": None,
            },
        ]
    }
    assert parse_employee_fields(body, "42") == {"firstName": "Ada", "surname": "", "startDate": ""}
