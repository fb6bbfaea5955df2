"""PinpointClient against `responses`: jobs and stages, hire listing, one application, comments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from structlog.testing import capture_logs

from poller import metrics
from poller.errors import AuthError, InvalidResponse, NotFound, PermanentError, RetryableError
from poller.http import HttpClient
from poller.models import Stage
from poller.pinpoint import (
    JOB_VISIBILITY,
    UNKNOWN_COMMENT_ID,
    PinpointClient,
    parse_application,
)

BASE = "http://127.0.0.1:9/api/v1"
API_KEY = "pp-key-123"


def sent_json(body: bytes | str | None) -> object:
    assert body is not None
    return json.loads(body)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def make_client(page_size: int = 2) -> PinpointClient:
    http = HttpClient("pinpoint", BASE, headers=PinpointClient.headers(API_KEY),
                      sleep=lambda _: None, max_retries=2)
    return PinpointClient(http, page_size=page_size)


def query(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def row(app_id: str, updated: str = "2025-02-19T09:25:04+00:00") -> dict[str, Any]:
    return {
        "id": app_id, "type": "applications", "attributes": {"updated_at": updated},
        "relationships": {"stage": {"data": {"type": "stages", "id": "301"}},
                          "job": {"data": {"type": "jobs", "id": "17"}}},
    }


def test_headers_carry_key_and_jsonapi_accept() -> None:
    assert PinpointClient.headers("k") == {"X-API-KEY": "k", "Accept": "application/vnd.api+json"}


def test_page_size_is_bounded() -> None:
    http = HttpClient("pinpoint", BASE, headers={})
    with pytest.raises(ValueError, match="page_size"):
        PinpointClient(http, page_size=101)


# --- jobs and hired stages ------------------------------------------------------------

JOBS_PAGE_1 = {
    "data": [
        {"id": "17", "type": "jobs", "attributes": {"title": "Backend Engineer"},
         "relationships": {"stages": {"data": [{"type": "stages", "id": "301"},
                                               {"type": "stages", "id": "302"}]}}},
        {"id": "18", "type": "jobs", "attributes": {"title": "Designer"}},
    ],
    "included": [
        {"type": "stages", "id": "301", "attributes": {"name": "Applied"}},
        {"type": "stages", "id": "302", "attributes": {"name": " HIRED "}},
        # Linked the other way round: the stage names its job.
        {"type": "stages", "id": "401", "attributes": {"name": "Offer accepted"},
         "relationships": {"job": {"data": {"type": "jobs", "id": "18"}}}},
        {"type": "locations", "id": "4", "attributes": {"name": "London"}},
    ],
}
JOBS_PAGE_2 = {
    "data": [{"id": 19, "type": "jobs", "attributes": {"title": "Sales"},
              "relationships": {"stages": {"data": [{"type": "stages", "id": "501"}]}}}],
    "included": [{"type": "stages", "id": "501", "attributes": {"name": "Interview"}}],
}


def test_list_jobs_reads_every_page_with_stages(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/jobs", json=JOBS_PAGE_1)
    mocked.get(f"{BASE}/jobs", json=JOBS_PAGE_2)
    jobs = make_client().list_jobs()
    assert [(j.id, j.title) for j in jobs] == [("17", "Backend Engineer"), ("18", "Designer"),
                                              ("19", "Sales")]
    assert jobs[0].stages == (Stage("301", "Applied"), Stage("302", " HIRED "))
    assert jobs[1].stages == (Stage("401", "Offer accepted"),)
    assert [query(c) for c in mocked.calls] == [
        {"include": "stages", "page[number]": "1", "page[size]": "2"},
        {"include": "stages", "page[number]": "2", "page[size]": "2"},
    ]
    assert all(c.request.headers["X-API-KEY"] == API_KEY for c in mocked.calls)


def test_resolve_hired_stages_by_name_ignoring_case_and_by_id(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{BASE}/jobs", json=JOBS_PAGE_1)
    mocked.get(f"{BASE}/jobs", json=JOBS_PAGE_2)
    hired = make_client().resolve_hired_stages(["hired", "  "], ["999"])
    assert hired.stage_ids == {"302", "999"}
    assert [j.id for j in hired.jobs_without_hired_stage] == ["18", "19"]


def test_resolve_hired_stages_several_names(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/jobs", json=JOBS_PAGE_1)
    mocked.get(f"{BASE}/jobs", json=JOBS_PAGE_2)
    hired = make_client().resolve_hired_stages(["Hired", "offer ACCEPTED"], ["501"])
    assert hired.stage_ids == {"302", "401", "501"}
    assert hired.jobs_without_hired_stage == ()


def test_resolve_hired_stages_with_ids_only_makes_no_request(
    mocked: responses.RequestsMock,
) -> None:
    hired = make_client().resolve_hired_stages([], ["301", "302"])
    assert hired.stage_ids == {"301", "302"} and hired.jobs_without_hired_stage == ()
    assert len(mocked.calls) == 0


def test_stage_without_name_is_invalid(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/jobs", json={"data": [], "included": [{"type": "stages", "id": "1",
                                                               "attributes": {"name": 7}}]})
    with pytest.raises(InvalidResponse, match=r"included\[0\]\.attributes\.name: not a string"):
        make_client().list_jobs()


# --- listing hires --------------------------------------------------------------------


def test_list_hired_filters_pages_and_stops_at_a_short_page(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{BASE}/applications", json={"data": [row("1"), row("2")]})
    mocked.get(f"{BASE}/applications", json={"data": [row("3")], "meta": {
        "stats": {"total": {"count": 3}}}})
    since = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
    listing = make_client().list_hired({"302", "301"}, since)
    assert [h.id for h in listing.hires] == ["1", "2", "3"]
    assert listing.used_updated_filter is True and listing.requests == 2
    first = listing.hires[0]
    assert (first.stage_id, first.job_id) == ("301", "17")
    assert first.updated_at == datetime(2025, 2, 19, 9, 25, 4, tzinfo=UTC)
    assert query(mocked.calls[0]) == {
        "filter[stage_id]": "301,302",
        "filter[job_visibility]": "external,internal,private_job,confidential",
        "filter[updated_at][gte]": "2025-02-01T12:00:00+00:00",
        "sort": "-updated_at",
        "page[number]": "1",
        "page[size]": "2",
    }
    assert query(mocked.calls[1])["page[number]"] == "2"


def test_list_hired_full_page_needs_one_more_request(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/applications", json={"data": [row("1"), row("2")]})
    mocked.get(f"{BASE}/applications", json={"data": []})
    listing = make_client().list_hired({"302"}, None)
    assert [h.id for h in listing.hires] == ["1", "2"] and listing.requests == 2
    assert listing.used_updated_filter is False
    params = query(mocked.calls[0])
    assert "filter[updated_at][gte]" not in params
    assert params["filter[job_visibility]"] == JOB_VISIBILITY
    assert "confidential" in params["filter[job_visibility]"].split(",")


def test_list_hired_naive_since_is_utc(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/applications", json={"data": []})
    make_client().list_hired({"302"}, datetime(2025, 1, 1))
    assert query(mocked.calls[0])["filter[updated_at][gte]"] == "2025-01-01T00:00:00+00:00"


def test_list_hired_without_stages_lists_nothing(mocked: responses.RequestsMock) -> None:
    listing = make_client().list_hired(set(), None)
    assert listing.hires == () and listing.requests == 0 and len(mocked.calls) == 0


def test_list_hired_deduplicates_rows_shifted_between_pages(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{BASE}/applications", json={"data": [row("1"), row("2")]})
    mocked.get(f"{BASE}/applications", json={"data": [row("2"), row("3")]})
    mocked.get(f"{BASE}/applications", json={"data": []})
    listing = make_client().list_hired({"302"}, None)
    assert [h.id for h in listing.hires] == ["1", "2", "3"] and listing.requests == 3


def test_list_hired_detects_a_server_ignoring_page_number(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{BASE}/applications", json={"data": [row("1"), row("2")]})
    with pytest.raises(InvalidResponse, match="page 2 only repeats earlier rows"):
        make_client().list_hired({"302"}, None)


def fallbacks() -> float:
    return metrics.REGISTRY.get_sample_value("poller_discovery_fallback_total") or 0.0


def test_listing_falls_back_once_when_updated_filter_is_rejected(
    mocked: responses.RequestsMock,
) -> None:
    rejected = {"errors": [{"title": "Bad Request", "detail": "unknown filter updated_at"}]}
    mocked.get(f"{BASE}/applications", status=400, json=rejected)
    mocked.get(f"{BASE}/applications", json={"data": [row("1")]})
    client = make_client()
    before = fallbacks()
    since = datetime(2025, 2, 1, tzinfo=UTC)
    with capture_logs() as logs:
        listing = client.list_hired({"302"}, since)
        again = client.list_hired({"302"}, since)
    assert [h.id for h in listing.hires] == ["1"]
    assert listing.used_updated_filter is False and listing.requests == 2
    assert again.used_updated_filter is False and again.requests == 1  # no second 400
    assert fallbacks() == before + 2
    warnings = [e for e in logs if e["event"] == "pinpoint.updated_filter_rejected"]
    assert len(warnings) == 1 and warnings[0]["log_level"] == "warning"
    with_filter, *without = [query(c) for c in mocked.calls]
    assert "filter[updated_at][gte]" in with_filter
    assert all("filter[updated_at][gte]" not in q for q in without)
    assert all(q["filter[job_visibility]"] == JOB_VISIBILITY for q in without)


@pytest.mark.parametrize(("status", "kind"), [(401, AuthError), (500, RetryableError)])
def test_listing_does_not_fall_back_on_other_errors(
    mocked: responses.RequestsMock, status: int, kind: type[Exception]
) -> None:
    mocked.get(f"{BASE}/applications", status=status)
    with pytest.raises(kind):
        make_client().list_hired({"302"}, datetime(2025, 2, 1, tzinfo=UTC))


def test_listing_row_without_updated_at_is_invalid(mocked: responses.RequestsMock) -> None:
    bad = row("2")
    bad["attributes"]["updated_at"] = "last tuesday"
    mocked.get(f"{BASE}/applications", json={"data": [row("1"), bad]})
    with pytest.raises(InvalidResponse) as info:
        make_client().list_hired({"302"}, None)
    assert info.value.message == "data[1].attributes.updated_at: not a valid datetime"
    assert info.value.endpoint == "GET /applications"
    assert "tuesday" not in str(info.value)


# --- one application ------------------------------------------------------------------

APPLICATION = {
    "data": {
        "id": "8863902", "type": "applications",
        "attributes": {
            "first_name": "Brian", "last_name": "Farrell", "email": "brian.farrell@example.com",
            "phone": "+44 7700 900000", "updated_at": "2025-02-19T09:25:04+00:00",
            "source": "LinkedIn",
            "attachments": [
                {"context": "cv", "filename": "brian_farrell.docx", "url": "https://a/x?sig=1"},
                {"context": "pdf_cv", "filename": "brian_farrell.pdf", "url": "https://a/y?sig=2"},
                {"context": "cover_letter", "filename": "c.pdf"},
            ],
        },
        "relationships": {"job": {"data": {"type": "jobs", "id": "17"}},
                          "stage": {"data": {"type": "stages", "id": "301"}}},
    },
    "included": [
        {"type": "jobs", "id": "17", "attributes": {"title": "Backend Engineer",
                                                    "department": {"name": "Engineering"}},
         "relationships": {"location": {"data": {"type": "locations", "id": "4"}}}},
        {"type": "locations", "id": "4", "attributes": {"name": "London, United Kingdom"}},
        {"type": "offers", "id": "54", "attributes": {"start_date": None}},
        {"type": "offers", "id": "55", "attributes": {"start_date": "2025-03-03"}},
    ],
}


def test_get_application_maps_every_field(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/applications/8863902", json=APPLICATION)
    app = make_client().get_application("8863902")
    assert (app.id, app.first_name, app.last_name, app.email, app.phone) == (
        "8863902", "Brian", "Farrell", "brian.farrell@example.com", "+44 7700 900000")
    assert app.updated_at == datetime(2025, 2, 19, 9, 25, 4, tzinfo=UTC)
    assert (app.job_id, app.job_title, app.department, app.location) == (
        "17", "Backend Engineer", "Engineering", "London, United Kingdom")
    assert app.offer_start_date == date(2025, 3, 3)
    assert [(a.context, a.filename) for a in app.attachments] == [
        ("cv", "brian_farrell.docx"), ("pdf_cv", "brian_farrell.pdf")]
    assert app.attributes["source"] == "LinkedIn" and "attachments" not in app.attributes
    assert query(mocked.calls[0]) == {"extra_fields[applications]": "attachments",
                                      "include": "job,offers"}


def test_get_application_quotes_the_id(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/applications/..%2Fjobs", status=404)
    with pytest.raises(NotFound):
        make_client().get_application("../jobs")


def test_anonymised_application_has_none_for_missing_fields() -> None:
    app = parse_application({"data": {"id": 5, "attributes": {}}})
    assert app.id == "5"
    assert (app.first_name, app.email, app.job_id, app.job_title, app.department,
            app.location, app.offer_start_date, app.updated_at) == (None,) * 8
    assert app.attachments == ()


def test_department_as_plain_string_is_its_name() -> None:
    body = json.loads(json.dumps(APPLICATION))
    body["included"][0]["attributes"]["department"] = "Sales"
    assert parse_application(body).department == "Sales"


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("data", "attributes", "first_name"), 5, "data.attributes.first_name: not a string"),
        (("data", "attributes", "attachments"), "x", "data.attributes.attachments: not a list"),
        (("included", 0, "attributes", "department"), 3,
         "included[0].attributes.department: not an object"),
        (("included", 1, "attributes", "name"), ["x"], "included[1].attributes.name: not a string"),
        (("included", 3, "attributes", "start_date"), "soon",
         "included[3].attributes.start_date: not a valid date"),
        (("data", "id"), None, "data.id: not a string"),
    ],
)
def test_wrong_types_name_the_field(path: tuple[Any, ...], value: object, where: str) -> None:
    body = json.loads(json.dumps(APPLICATION))
    target = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(InvalidResponse) as info:
        parse_application(body)
    assert info.value.message == where
    assert info.value.endpoint == "GET /applications/{id}"


def test_get_application_not_found(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/applications/1", status=404,
               json={"errors": [{"title": "Not Found", "detail": "no application"}]})
    with pytest.raises(NotFound) as info:
        make_client().get_application("1")
    assert info.value.endpoint == "GET /applications/{id}" and info.value.key == "Not Found"


# --- comments -------------------------------------------------------------------------


def test_post_comment_sends_jsonapi_and_returns_id(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/comments", status=201, json={"data": {"id": 9001, "type": "comments"}})
    assert make_client().post_comment("8863902", "Employee created in HiBob with ID 1") == "9001"
    request = mocked.calls[0].request
    assert request.headers["Content-Type"] == "application/vnd.api+json"
    assert sent_json(request.body) == {"data": {
        "type": "comments",
        "attributes": {"body_text": "Employee created in HiBob with ID 1"},
        "relationships": {"commentable": {"data": {"type": "applications", "id": "8863902"}}},
    }}


def test_post_comment_is_not_retried_on_5xx(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/comments", status=502)
    with pytest.raises(RetryableError):
        make_client().post_comment("1", "x")
    assert len(mocked.calls) == 1


def test_post_comment_validation_error(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/comments", status=422,
                json={"errors": [{"title": "Invalid", "detail": "body_text can't be blank"}]})
    with pytest.raises(PermanentError, match="body_text can't be blank"):
        make_client().post_comment("1", "")


def test_post_comment_unreadable_2xx_counts_as_posted(mocked: responses.RequestsMock) -> None:
    # Pinpoint accepted it; raising would make the caller post a second comment.
    mocked.post(f"{BASE}/comments", status=201, json={"data": {}})
    assert make_client().post_comment("1", "x") == UNKNOWN_COMMENT_ID
    mocked.post(f"{BASE}/comments", status=201, body="<html>signed out</html>")
    assert make_client().post_comment("1", "x") == UNKNOWN_COMMENT_ID


def test_post_comment_unreadable_4xx_still_raises(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/comments", status=422, body="<html>no</html>")
    with pytest.raises(PermanentError):
        make_client().post_comment("1", "x")
