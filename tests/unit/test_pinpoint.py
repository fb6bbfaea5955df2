"""PinpointClient against `responses`, with bodies shaped like shared/api/pinpoint.md's
examples (the recorded real traffic): relationships carry data only when included, ids are
attributes too, jobs have no department attribute, offers carry start_on and status."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from structlog.testing import capture_logs

from poller import metrics
from poller.config import MappingSettings
from poller.errors import AuthError, InvalidResponse, NotFound, PermanentError, RetryableError
from poller.mapping import build_employee
from poller.models import Stage
from poller.upstream.http import HttpClient
from poller.upstream.pinpoint import (
    APPLICATION_INCLUDE,
    JOB_VISIBILITY,
    UNKNOWN_COMMENT_ID,
    PinpointClient,
    mentions_employee,
)
from poller.upstream.pinpoint_parse import parse_application

BASE = "http://127.0.0.1:9/api/v1"
API_KEY = "pp-key-123"
NOT_INCLUDED = {"meta": {"included": False}}


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def make_client(page_size: int = 2) -> PinpointClient:
    http = HttpClient(
        "pinpoint",
        BASE,
        headers=PinpointClient.headers(API_KEY),
        sleep=lambda _: None,
        max_retries=2,
    )
    return PinpointClient(http, page_size=page_size)


def query(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def row(
    app_id: str, updated: str = "2025-02-19T09:25:04+00:00", stage: str = "301"
) -> dict[str, Any]:
    """A listing row as recorded: ids as attributes, relationships not included."""
    return {
        "id": app_id,
        "type": "applications",
        "attributes": {
            "first_name": "Brian",
            "updated_at": updated,
            "stage_id": stage,
            "job_id": "17",
            "hired_at": updated,
        },
        "relationships": {"stage": NOT_INCLUDED, "job": NOT_INCLUDED},
    }


def error(status: int, code: str, detail: str, parameter: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "code": code,
        "status": str(status),
        "title": "Bad Request",
        "detail": detail,
    }
    if parameter:
        item["source"] = {"parameter": parameter}
    return {"errors": [item]}


def never() -> frozenset[str]:
    raise AssertionError("the stage ids are needed only without the basic-type filter")


def test_headers_carry_key_and_jsonapi_accept() -> None:
    assert PinpointClient.headers("k") == {"X-API-KEY": "k", "Accept": "application/vnd.api+json"}


def test_page_size_is_bounded_by_the_documented_maximum() -> None:
    http = HttpClient("pinpoint", BASE, headers={})
    PinpointClient(http, page_size=1000)
    with pytest.raises(ValueError, match="page_size"):
        PinpointClient(http, page_size=1001)


# --- jobs and stages --------------------------------------------------------------------

JOBS_PAGE_1 = {
    "data": [
        {
            "id": "17",
            "type": "jobs",
            "attributes": {"title": "Backend Engineer"},
            "relationships": {
                "stages": {
                    "data": [{"type": "stages", "id": "301"}, {"type": "stages", "id": "302"}]
                },
                "location": NOT_INCLUDED,
                "department": NOT_INCLUDED,
            },
        },
        {"id": "18", "type": "jobs", "attributes": {"title": "Designer"}},
    ],
    "included": [
        {"type": "stages", "id": "301", "attributes": {"name": "Applied", "basic_type": "applied"}},
        {"type": "stages", "id": "302", "attributes": {"name": " HIRED ", "basic_type": "hired"}},
        # Linked the other way round: the stage names its job.
        {
            "type": "stages",
            "id": "401",
            "attributes": {"name": "Offer accepted", "basic_type": "hired"},
            "relationships": {"job": {"data": {"type": "jobs", "id": "18"}}},
        },
    ],
}
JOBS_PAGE_2 = {
    "data": [
        {
            "id": 19,
            "type": "jobs",
            "attributes": {"title": "Sales"},
            "relationships": {"stages": {"data": [{"type": "stages", "id": "501"}]}},
        }
    ],
    "included": [
        {
            "type": "stages",
            "id": "501",
            "attributes": {"name": "Interview", "basic_type": "interview"},
        }
    ],
}


def test_list_jobs_reads_every_page_with_stages_and_confidential_jobs(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{BASE}/jobs", json=JOBS_PAGE_1)
    mocked.get(f"{BASE}/jobs", json=JOBS_PAGE_2)
    jobs = make_client().list_jobs()
    assert [(j.id, j.title) for j in jobs] == [
        ("17", "Backend Engineer"),
        ("18", "Designer"),
        ("19", "Sales"),
    ]
    assert jobs[0].stages == (Stage("301", "Applied", "applied"), Stage("302", " HIRED ", "hired"))
    assert jobs[1].stages == (Stage("401", "Offer accepted", "hired"),)
    assert [query(c) for c in mocked.calls] == [
        {
            "include": "stages",
            "filter[visibility]": JOB_VISIBILITY,
            "page[number]": "1",
            "page[size]": "2",
        },
        {
            "include": "stages",
            "filter[visibility]": JOB_VISIBILITY,
            "page[number]": "2",
            "page[size]": "2",
        },
    ]
    assert all(c.request.headers["X-API-KEY"] == API_KEY for c in mocked.calls)


def test_resolve_hired_stages_by_basic_type_when_nothing_is_configured(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{BASE}/jobs", json=JOBS_PAGE_1)
    mocked.get(f"{BASE}/jobs", json=JOBS_PAGE_2)
    hired = make_client().resolve_hired_stages([], [])
    assert hired.stage_ids == {"302", "401"}
    assert [j.id for j in hired.jobs_without_hired_stage] == ["19"]


def test_resolve_hired_stages_by_name_ignoring_case_and_by_id(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{BASE}/jobs", json=JOBS_PAGE_1)
    mocked.get(f"{BASE}/jobs", json=JOBS_PAGE_2)
    hired = make_client().resolve_hired_stages(["hired", "  "], ["999"])
    assert hired.stage_ids == {"302", "999"}
    assert [j.id for j in hired.jobs_without_hired_stage] == ["18", "19"]


def test_resolve_hired_stages_with_ids_only_makes_no_request(
    mocked: responses.RequestsMock,
) -> None:
    hired = make_client().resolve_hired_stages([], ["301", "302"])
    assert hired.stage_ids == {"301", "302"} and hired.jobs_without_hired_stage == ()
    assert len(mocked.calls) == 0


def test_stage_without_name_is_invalid(mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/jobs",
        json={"data": [], "included": [{"type": "stages", "id": "1", "attributes": {"name": 7}}]},
    )
    with pytest.raises(InvalidResponse, match=r"included\[0\]\.attributes\.name: not a string"):
        make_client().list_jobs()


# --- listing hires ----------------------------------------------------------------------


def test_list_hired_asks_by_basic_type_since_the_watermark(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{BASE}/applications", json={"data": [row("1"), row("2")]})
    mocked.get(
        f"{BASE}/applications",
        json={"data": [row("3")], "meta": {"stats": {"total": {"count": 3}}}},
    )
    since = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
    listing = make_client().list_hired(since, hired_stage_ids=never)
    assert [h.id for h in listing.hires] == ["1", "2", "3"]
    assert listing.used_updated_filter is True and listing.requests == 2
    assert listing.refused == ()
    first = listing.hires[0]
    assert (first.stage_id, first.job_id) == ("301", "17")  # from the attributes
    assert first.updated_at == first.hired_at == datetime(2025, 2, 19, 9, 25, 4, tzinfo=UTC)
    assert query(mocked.calls[0]) == {
        "filter[stage_basic_type]": "hired",
        "filter[job_visibility]": "external,internal,private_job,confidential",
        "filter[updated_at][gt]": "2025-02-01T12:00:00+00:00",
        "sort": "-updated_at",
        "include": "job,job.location,job.department,offers",
        "page[number]": "1",
        "page[size]": "2",
    }
    assert query(mocked.calls[1])["page[number]"] == "2"


def test_list_hired_ids_from_included_relationships_too(mocked: responses.RequestsMock) -> None:
    old_style = {
        "id": "1",
        "type": "applications",
        "attributes": {"updated_at": "2025-02-19T09:25:04+00:00"},
        "relationships": {
            "stage": {"data": {"type": "stages", "id": "302"}},
            "job": {"data": {"type": "jobs", "id": "18"}},
        },
    }
    mocked.get(f"{BASE}/applications", json={"data": [old_style]})
    (hire,) = make_client().list_hired(None, hired_stage_ids=never).hires
    assert (hire.stage_id, hire.job_id, hire.hired_at) == ("302", "18", None)


def test_list_hired_full_page_needs_one_more_request(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/applications", json={"data": [row("1"), row("2")]})
    mocked.get(f"{BASE}/applications", json={"data": []})
    listing = make_client().list_hired(None, hired_stage_ids=never)
    assert [h.id for h in listing.hires] == ["1", "2"] and listing.requests == 2
    assert listing.used_updated_filter is False
    params = query(mocked.calls[0])
    assert "filter[updated_at][gt]" not in params and "filter[stage_id]" not in params
    assert "confidential" in params["filter[job_visibility]"].split(",")


def test_list_hired_naive_since_is_utc(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/applications", json={"data": []})
    make_client().list_hired(datetime(2025, 1, 1), hired_stage_ids=never)
    assert query(mocked.calls[0])["filter[updated_at][gt]"] == "2025-01-01T00:00:00+00:00"


def test_list_hired_deduplicates_rows_shifted_between_pages(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{BASE}/applications", json={"data": [row("1"), row("2")]})
    mocked.get(f"{BASE}/applications", json={"data": [row("2"), row("3")]})
    mocked.get(f"{BASE}/applications", json={"data": []})
    listing = make_client().list_hired(None, hired_stage_ids=never)
    assert [h.id for h in listing.hires] == ["1", "2", "3"] and listing.requests == 3


def test_list_hired_detects_a_server_ignoring_page_number(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{BASE}/applications", json={"data": [row("1"), row("2")]})
    with pytest.raises(InvalidResponse, match="page 2 only repeats earlier rows"):
        make_client().list_hired(None, hired_stage_ids=never)


def fallbacks() -> float:
    return metrics.REGISTRY.get_sample_value("poller_discovery_fallback_total") or 0.0


def test_a_refused_updated_filter_named_in_source_is_dropped_and_reported(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(
        f"{BASE}/applications",
        status=400,
        json=error(
            400, "invalid_filter", "filter not supported", parameter="filter[updated_at][gt]"
        ),
    )
    mocked.get(f"{BASE}/applications", json={"data": [row("1")]})
    before = fallbacks()
    with capture_logs() as logs:
        listing = make_client().list_hired(datetime(2025, 2, 1, tzinfo=UTC), hired_stage_ids=never)
    assert [h.id for h in listing.hires] == ["1"]
    assert listing.used_updated_filter is False and listing.requests == 2
    assert [r.parameter for r in listing.refused] == ["filter[updated_at][gt]"]
    assert "filter not supported" in listing.refused[0].reason
    assert fallbacks() == before + 1
    (warning,) = [e for e in logs if e["event"] == "pinpoint.filter_refused"]
    assert warning["parameter"] == "filter[updated_at][gt]" and warning["log_level"] == "warning"
    with_filter, without = (query(c) for c in mocked.calls)
    assert "filter[updated_at][gt]" in with_filter and "filter[updated_at][gt]" not in without
    # Only the refused filter goes: the stage type and visibility filters stay.
    assert without["filter[stage_basic_type]"] == "hired"
    assert without["filter[job_visibility]"] == JOB_VISIBILITY


def test_a_known_refusal_is_not_sent_again(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/applications", json={"data": [row("1")]})
    listing = make_client().list_hired(
        datetime(2025, 2, 1, tzinfo=UTC),
        refused={"filter[updated_at][gt]"},
        hired_stage_ids=never,
    )
    assert listing.requests == 1 and listing.refused == () and not listing.used_updated_filter
    assert "filter[updated_at][gt]" not in query(mocked.calls[0])


def test_a_refused_basic_type_filter_falls_back_to_the_hired_stage_ids(
    mocked: responses.RequestsMock,
) -> None:
    """The refusal names only its filter in the detail; the other filter stays."""
    mocked.get(
        f"{BASE}/applications",
        status=400,
        json=error(400, "bad_request", "Unknown filter: stage_basic_type"),
    )
    mocked.get(
        f"{BASE}/applications", json={"data": [row("1", stage="302"), row("2", stage="301")]}
    )
    mocked.get(f"{BASE}/applications", json={"data": []})
    listing = make_client().list_hired(
        datetime(2025, 2, 1, tzinfo=UTC), hired_stage_ids=lambda: frozenset({"302"})
    )
    assert [h.id for h in listing.hires] == ["1"]
    assert [r.parameter for r in listing.refused] == ["filter[stage_basic_type]"]
    assert listing.used_updated_filter is True
    retried = query(mocked.calls[1])
    assert "filter[stage_basic_type]" not in retried and "filter[updated_at][gt]" in retried


def test_a_refusal_that_names_nothing_drops_optional_parameters_in_turn(
    mocked: responses.RequestsMock,
) -> None:
    vague = {"errors": [{"code": "bad_request", "status": "400", "title": "Bad Request"}]}
    mocked.get(f"{BASE}/applications", status=400, json=vague)  # with sort
    mocked.get(f"{BASE}/applications", status=400, json=vague)  # without sort
    mocked.get(f"{BASE}/applications", status=400, json=vague)  # without the include
    mocked.get(f"{BASE}/applications", json={"data": []})  # without the updated filter either
    listing = make_client().list_hired(datetime(2025, 2, 1, tzinfo=UTC), hired_stage_ids=never)
    # Cheapest first: the order, then the watch's include (hires are then fetched at the daily
    # full listing), then the updated_at filter (every listing is then a full one).
    assert [r.parameter for r in listing.refused] == ["sort", "include", "filter[updated_at][gt]"]
    assert query(mocked.calls[3])["filter[stage_basic_type]"] == "hired"


def test_a_refusal_that_names_nothing_and_never_heals_is_raised(
    mocked: responses.RequestsMock,
) -> None:
    for _ in range(5):
        mocked.get(f"{BASE}/applications", status=400, json={"errors": [{"title": "Bad"}]})
    with pytest.raises(PermanentError) as info:
        make_client().list_hired(datetime(2025, 2, 1, tzinfo=UTC), hired_stage_ids=frozenset)
    assert info.value.status == 400


def test_a_refused_visibility_filter_stops_the_listing(mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/applications",
        status=400,
        json=error(400, "bad_request", "bad value", parameter="filter[job_visibility]"),
    )
    with pytest.raises(PermanentError, match="confidential jobs can't be listed"):
        make_client().list_hired(None, hired_stage_ids=never)


@pytest.mark.parametrize(("status", "kind"), [(401, AuthError), (500, RetryableError)])
def test_listing_does_not_fall_back_on_other_errors(
    mocked: responses.RequestsMock, status: int, kind: type[Exception]
) -> None:
    mocked.get(f"{BASE}/applications", status=status)
    with pytest.raises(kind):
        make_client().list_hired(datetime(2025, 2, 1, tzinfo=UTC), hired_stage_ids=never)


def test_listing_row_without_updated_at_is_invalid(mocked: responses.RequestsMock) -> None:
    bad = row("2")
    bad["attributes"]["updated_at"] = "last tuesday"
    mocked.get(f"{BASE}/applications", json={"data": [row("1"), bad]})
    with pytest.raises(InvalidResponse) as info:
        make_client().list_hired(None, hired_stage_ids=never)
    assert info.value.message == "data[1].attributes.updated_at: not a valid datetime"
    assert info.value.endpoint == "GET /applications"
    assert "tuesday" not in str(info.value)


@pytest.mark.parametrize(
    ("path", "endpoint", "scope", "call"),
    [
        ("/comments", "GET /comments", "Comments: read", lambda c: c.list_comments("1")),
        ("/jobs", "GET /jobs", "Jobs: read, and Stages: read", lambda c: c.list_jobs()),
        (
            "/applications",
            "GET /applications",
            "Applications: read",
            lambda c: c.sample_application_ids(),
        ),
    ],
)
def test_a_scoped_key_403_names_the_scope_that_read_needs(
    mocked: responses.RequestsMock,
    path: str,
    endpoint: str,
    scope: str,
    call: Callable[[PinpointClient], object],
) -> None:
    refusal = "This API key has no read access here"
    mocked.get(f"{BASE}{path}", status=403, json=error(403, "forbidden", refusal))
    with pytest.raises(AuthError) as info:
        call(make_client())
    assert (info.value.endpoint, info.value.status) == (endpoint, 403)
    assert f"the API key needs {scope} (Pinpoint: Settings > API Keys)" in str(info.value)
    assert refusal in str(info.value)  # Pinpoint's own words are kept


# --- one application --------------------------------------------------------------------

# shared/api/pinpoint.md's "One application" example, with a stage included.
APPLICATION: dict[str, Any] = {
    "data": {
        "id": "8863902",
        "type": "applications",
        "attributes": {
            "first_name": "Brian",
            "last_name": "Farrell",
            "email": "brian.farrell@example.com",
            "phone": "+44 7700 900000",
            "updated_at": "2025-02-19T09:25:04+00:00",
            "hired_at": "2025-02-19T09:25:04+00:00",
            "start_on": None,
            "stage_id": "301",
            "job_id": "17",
            "source": "LinkedIn",
            "attachments": [
                {"context": "cv", "filename": "brian_farrell.docx", "url": "https://a/x?sig=1"},
                {"context": "pdf_cv", "filename": "brian_farrell.pdf", "url": "https://a/y?sig=2"},
                {"context": "cover_letter", "filename": "c.pdf"},
            ],
        },
        "relationships": {
            "job": {"data": {"type": "jobs", "id": "17"}},
            "stage": {"data": {"type": "stages", "id": "301"}},
            "offers": {"data": [{"type": "offers", "id": "54"}, {"type": "offers", "id": "55"}]},
        },
    },
    "included": [
        {
            "type": "jobs",
            "id": "17",
            "attributes": {"title": "Backend Engineer"},
            "relationships": {
                "location": {"data": {"type": "locations", "id": "4"}},
                "department": {"data": {"type": "departments", "id": "9"}},
            },
        },
        {"type": "locations", "id": "4", "attributes": {"name": "London, United Kingdom"}},
        {"type": "departments", "id": "9", "attributes": {"name": "Engineering"}},
        {
            "type": "offers",
            "id": "54",
            "attributes": {"start_on": "2025-02-24", "status": "declined"},
        },
        {
            "type": "offers",
            "id": "55",
            "attributes": {"start_on": "2025-03-03", "status": "accepted"},
        },
        {"type": "stages", "id": "301", "attributes": {"name": "Hired", "basic_type": "hired"}},
    ],
}


def test_get_application_maps_every_field(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/applications/8863902", json=APPLICATION)
    app = make_client().get_application("8863902")
    assert (app.id, app.first_name, app.last_name, app.email, app.phone) == (
        "8863902",
        "Brian",
        "Farrell",
        "brian.farrell@example.com",
        "+44 7700 900000",
    )
    assert app.updated_at == app.hired_at == datetime(2025, 2, 19, 9, 25, 4, tzinfo=UTC)
    assert (app.job_id, app.job_title, app.department, app.location) == (
        "17",
        "Backend Engineer",
        "Engineering",
        "London, United Kingdom",
    )
    # The accepted offer's date; the declined one's is stale.
    assert (app.offer_start_on, app.start_on) == (date(2025, 3, 3), None)
    assert (app.stage_id, app.stage_name, app.stage_basic_type) == ("301", "Hired", "hired")
    assert [(a.context, a.filename) for a in app.attachments] == [
        ("cv", "brian_farrell.docx"),
        ("pdf_cv", "brian_farrell.pdf"),
    ]
    assert app.attributes["source"] == "LinkedIn" and "attachments" not in app.attributes
    assert query(mocked.calls[0]) == {
        "extra_fields[applications]": "attachments",
        "include": "job,job.location,job.department,offers,stage",
        "filter[job_visibility]": JOB_VISIBILITY,  # else a confidential job's hire is a 404
    }
    assert APPLICATION_INCLUDE.split(",")[:4] == ["job", "job.location", "job.department", "offers"]


def test_without_an_accepted_offer_the_applications_start_on_is_kept() -> None:
    body = copy.deepcopy(APPLICATION)
    body["data"]["attributes"]["start_on"] = "2025-04-01"
    body["included"][4]["attributes"]["status"] = "pending"
    app = parse_application(body)
    assert (app.offer_start_on, app.start_on) == (None, date(2025, 4, 1))


def test_with_several_accepted_offers_the_last_one_gives_the_start_date() -> None:
    """An offer renegotiated and accepted again: the last accepted offer listed is the one
    that holds, whatever an earlier accepted (or a later declined) one says."""
    body = copy.deepcopy(APPLICATION)
    offers = [
        ("54", "2025-03-03", "accepted"),  # the first acceptance, superseded
        ("55", "2025-03-17", "accepted"),  # the one that holds
        ("56", "2025-02-24", "declined"),  # a later declined offer: stale, never used
    ]
    body["data"]["relationships"]["offers"] = {
        "data": [{"type": "offers", "id": offer_id} for offer_id, _, _ in offers]
    }
    body["included"] = [i for i in body["included"] if i["type"] != "offers"] + [
        {"type": "offers", "id": offer_id, "attributes": {"start_on": day, "status": status}}
        for offer_id, day, status in offers
    ]
    body["data"]["attributes"]["start_on"] = "2025-04-01"  # the application's own: not used
    app = parse_application(body)
    assert app.offer_start_on == date(2025, 3, 17)
    payload = build_employee(
        app,
        MappingSettings(site_map={"London, United Kingdom": "London"}),
        today=date(2025, 2, 20),
    )
    assert payload.body["work"]["startDate"] == "2025-03-17"
    assert (payload.start_date, payload.start_source) == (date(2025, 3, 17), "offer")


def test_relationships_that_were_not_included_leave_the_fields_empty() -> None:
    body = copy.deepcopy(APPLICATION)
    body["included"] = [body["included"][0]]
    body["included"][0]["relationships"] = {"location": NOT_INCLUDED, "department": NOT_INCLUDED}
    body["data"]["relationships"] = {
        "job": {"data": {"type": "jobs", "id": "17"}},
        "stage": NOT_INCLUDED,
        "offers": NOT_INCLUDED,
    }
    app = parse_application(body)
    assert (app.job_title, app.location, app.department, app.offer_start_on) == (
        "Backend Engineer",
        None,
        None,
        None,
    )
    assert (app.stage_id, app.stage_basic_type) == ("301", None)


def test_a_job_department_attribute_is_not_read() -> None:
    """The job schema has no department attribute: only the relationship counts."""
    body = copy.deepcopy(APPLICATION)
    body["included"][0]["attributes"]["department"] = {"name": "Sales"}
    body["included"][0]["relationships"].pop("department")
    assert parse_application(body).department is None


def test_get_application_quotes_the_id(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/applications/..%2Fjobs", status=404)
    with pytest.raises(NotFound):
        make_client().get_application("../jobs")


def test_anonymised_application_has_none_for_missing_fields() -> None:
    app = parse_application({"data": {"id": 5, "attributes": {}}})
    assert app.id == "5"
    assert (
        app.first_name,
        app.email,
        app.job_id,
        app.job_title,
        app.department,
        app.location,
        app.offer_start_on,
        app.updated_at,
        app.hired_at,
    ) == (None,) * 9
    assert app.attachments == ()


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("data", "attributes", "first_name"), 5, "data.attributes.first_name: not a string"),
        (("data", "attributes", "attachments"), "x", "data.attributes.attachments: not a list"),
        (("data", "attributes", "start_on"), "soon", "data.attributes.start_on: not a valid date"),
        (("included", 2, "attributes", "name"), ["x"], "included[2].attributes.name: not a string"),
        (
            ("included", 4, "attributes", "start_on"),
            "soon",
            "included[4].attributes.start_on: not a valid date",
        ),
        (("data", "id"), None, "data.id: not a string"),
    ],
)
def test_wrong_types_name_the_field(path: tuple[Any, ...], value: object, where: str) -> None:
    body = copy.deepcopy(APPLICATION)
    target = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(InvalidResponse) as info:
        parse_application(body)
    assert info.value.message == where
    assert info.value.endpoint == "GET /applications/{id}"


def test_get_application_not_found(mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/applications/1",
        status=404,
        json={
            "errors": [
                {
                    "code": "not_found",
                    "status": "404",
                    "title": "Not Found",
                    "detail": "Specified Record Not Found",
                }
            ]
        },
    )
    with pytest.raises(NotFound) as info:
        make_client().get_application("1")
    assert info.value.endpoint == "GET /applications/{id}" and info.value.key == "not_found"
    assert "Specified Record Not Found" in str(info.value)


# --- comments ---------------------------------------------------------------------------

CREATED = {
    "data": {
        "id": "9001",
        "type": "comments",
        "attributes": {
            "body_text": "Employee created in HiBob with ID 1",
            "commentable_id": 8863902,
            "commentable_type": "Application",
        },
    }
}


def test_post_comment_sends_jsonapi_and_returns_id(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/comments", status=201, json=CREATED)
    assert make_client().post_comment("8863902", "Employee created in HiBob with ID 1") == "9001"
    request = mocked.calls[0].request
    assert request.headers["Content-Type"] == "application/vnd.api+json"
    assert request.body is not None
    assert json.loads(request.body) == {
        "data": {
            "type": "comments",
            "attributes": {"body_text": "Employee created in HiBob with ID 1"},
            # A string id: a number gets 422 "Commentable must exist" (recorded).
            "relationships": {"commentable": {"data": {"type": "applications", "id": "8863902"}}},
        }
    }


def test_post_comment_is_not_retried_on_5xx(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/comments", status=502)
    with pytest.raises(RetryableError):
        make_client().post_comment("1", "x")
    assert len(mocked.calls) == 1


def test_post_comment_validation_error(mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{BASE}/comments",
        status=422,
        json={
            "errors": [
                {
                    "code": "unprocessable_entity",
                    "status": "422",
                    "title": "Invalid",
                    "detail": "body_text can't be blank",
                }
            ]
        },
    )
    with pytest.raises(PermanentError, match="body_text can't be blank"):
        make_client().post_comment("1", "")


def comments(*bodies: str) -> dict[str, Any]:
    return {
        "data": [
            {
                "id": str(9000 + i),
                "type": "comments",
                "attributes": {
                    "body_text": b,
                    "commentable_id": "1",
                    "commentable_type": "Application",
                },
            }
            for i, b in enumerate(bodies)
        ]
    }


def test_list_and_find_comments(mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/comments",
        json=comments(
            "Great interview", "Employee created in HiBob with ID 3397352260643062621 for Brian."
        ),
    )
    client = make_client(page_size=100)
    assert client.find_comment("8863902", "3397352260643062621") == "9001"
    assert query(mocked.calls[0]) == {
        "filter[commentable_type]": "Application",
        "filter[commentable_id]": "8863902",
        "page[number]": "1",
        "page[size]": "100",
    }


def test_mentions_employee_matches_the_whole_id_only() -> None:
    assert mentions_employee("with ID 3397352260643062621.", "3397352260643062621")
    assert not mentions_employee("with ID 33973522606430626210", "3397352260643062621")
    assert not mentions_employee("with ID 13397352260643062621", "3397352260643062621")


def test_post_comment_unreadable_2xx_is_found_in_the_listing(
    mocked: responses.RequestsMock,
) -> None:
    # Pinpoint accepted it; raising would make the caller post a second comment.
    mocked.post(f"{BASE}/comments", status=201, body="<html>signed out</html>")
    mocked.get(f"{BASE}/comments", json=comments("other", "x"))
    assert make_client(page_size=100).post_comment("1", "x") == "9001"


def test_post_comment_unreadable_2xx_not_listed_counts_as_posted(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(f"{BASE}/comments", status=201, json={"data": {}})
    mocked.get(f"{BASE}/comments", json=comments())
    assert make_client().post_comment("1", "x") == UNKNOWN_COMMENT_ID


def test_post_comment_unreadable_4xx_still_raises(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/comments", status=422, body="<html>no</html>")
    with pytest.raises(PermanentError):
        make_client().post_comment("1", "x")
