"""Contract tests for the Pinpoint simulator's resources, over real loopback HTTP.

shared/api/pinpoint.md: JSON:API shapes, include paths, the single fetch, errors, CV links.
Filters and paging are in test_pinpoint_filters.py, comments and scopes in
test_pinpoint_comments.py, moves over time in test_pinpoint_moves.py.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import pytest
import requests

from poller.sandbox import Sandbox

from .helpers import ALL_VISIBILITY, assert_jsonapi_error, list_apps

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
DAY = re.compile(r"^\d{4}-\d\d-\d\d$")
NOT_INCLUDED = {"meta": {"included": False}}


def by_type(body: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """included, as {type: {id: resource}}; asserts each resource appears once."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for resource in body.get("included", []):
        assert resource["id"] not in found.get(resource["type"], {}), "included twice"
        found.setdefault(resource["type"], {})[resource["id"]] = resource
    return found


def fetch(sb: Sandbox, pp: requests.Session, app_id: str, **params: Any) -> requests.Response:
    params.setdefault("filter[job_visibility]", ALL_VISIBILITY)
    return pp.get(f"{sb.pinpoint_url}/applications/{app_id}", params=params)


def list_jobs(sb: Sandbox, pp: requests.Session, **params: Any) -> dict[str, Any]:
    response = pp.get(f"{sb.pinpoint_url}/jobs", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_missing_or_wrong_key_is_401(sb: Sandbox) -> None:
    assert_jsonapi_error(requests.get(f"{sb.pinpoint_url}/jobs", timeout=5), 401)
    wrong = requests.get(f"{sb.pinpoint_url}/jobs", headers={"X-API-KEY": "nope"}, timeout=5)
    assert_jsonapi_error(wrong, 401)


def test_integration_not_enabled_is_403(sb: Sandbox, pp: requests.Session) -> None:
    sb.pinpoint.set_forbidden(True)
    assert_jsonapi_error(pp.get(f"{sb.pinpoint_url}/applications"), 403)
    assert_jsonapi_error(pp.get(f"{sb.pinpoint_url}/jobs"), 403)


def test_unknown_application_is_404_as_recorded(sb: Sandbox, pp: requests.Session) -> None:
    response = fetch(sb, pp, "1")
    assert_jsonapi_error(response, 404)
    assert response.json() == {
        "errors": [
            {
                "code": "not_found",
                "status": "404",
                "title": "Not Found",
                "detail": "Specified Record Not Found",
            }
        ]
    }


def test_rate_limit_error_is_as_recorded(sb: Sandbox, pp: requests.Session) -> None:
    sb.pinpoint.set_rate_limit("GET /jobs", 1)
    pp.get(f"{sb.pinpoint_url}/jobs")
    refused = pp.get(f"{sb.pinpoint_url}/jobs")
    error = assert_jsonapi_error(refused, 429)
    assert (error["code"], error["title"], error["detail"]) == (
        "too_many_requests",
        "Too Many Requests",
        "Rate limit exceeded",
    )
    assert not {"Retry-After", "X-RateLimit-Limit"} & set(refused.headers)


def test_jobs_carry_their_stages_with_basic_types(sb: Sandbox, pp: requests.Session) -> None:
    body = list_jobs(sb, pp, include="stages", **{"filter[visibility]": ALL_VISIBILITY})
    stages = by_type(body)["stages"]
    assert set(by_type(body)) == {"stages"}
    workflow = {
        job["attributes"]["title"]: [
            (stages[r["id"]]["attributes"]["name"], stages[r["id"]]["attributes"]["basic_type"])
            for r in job["relationships"]["stages"]["data"]
        ]
        for job in body["data"]
    }
    standard = [
        ("Applied", "applied"),
        ("Review", "review"),
        ("Interview", "interview"),
        ("Offer", "offer"),
        ("Rejected", "rejected"),
    ]
    assert workflow["Backend Engineer"] == [*standard, ("Hired", "hired")]
    assert workflow["Account Executive"] == [*standard, ("Offer Accepted", "hired")]
    assert len(workflow) == 6  # confidential jobs too, with the filter
    for job in body["data"]:
        assert job["relationships"]["location"] == NOT_INCLUDED
        assert job["relationships"]["department"] == NOT_INCLUDED


def test_jobs_have_location_and_department_only_as_relationships(
    sb: Sandbox, pp: requests.Session
) -> None:
    body = list_jobs(sb, pp, include="location,department")
    included = by_type(body)
    assert set(included) == {"locations", "departments"}
    names = {}
    for job in body["data"]:
        assert not {"department", "location"} & set(job["attributes"])
        assert job["relationships"]["stages"] == NOT_INCLUDED
        location = job["relationships"]["location"]["data"]
        department = job["relationships"]["department"]["data"]
        assert location["type"] == "locations" and department["type"] == "departments"
        names[job["attributes"]["title"]] = (
            included["locations"][location["id"]]["attributes"]["name"],
            included["departments"][department["id"]]["attributes"]["name"],
        )
    assert names["Backend Engineer"] == ("London, United Kingdom", "Engineering")
    assert names["Product Manager"] == ("New York, United States", "Product")
    assert len(included["locations"]) == 2  # each resource once


def test_jobs_listing_hides_confidential_jobs_by_default(sb: Sandbox, pp: requests.Session) -> None:
    def visibilities(**params: Any) -> set[str]:
        return {j["attributes"]["visibility"] for j in list_jobs(sb, pp, **params)["data"]}

    assert visibilities() == {"external", "internal", "private_job"}
    assert "confidential" in visibilities(**{"filter[visibility]": ALL_VISIBILITY})
    assert visibilities(**{"filter[visibility]": "confidential"}) == {"confidential"}
    sb.pinpoint.configure({"jobs_default_visibility": "all"})
    assert "confidential" in visibilities()
    assert_jsonapi_error(
        pp.get(f"{sb.pinpoint_url}/jobs", params={"filter[visibility]": "secret"}),
        400,
        "filter[visibility]",
    )
    with pytest.raises(ValueError, match="jobs_default_visibility"):
        sb.pinpoint.configure({"jobs_default_visibility": "none"})


def test_jobs_paging(sb: Sandbox, pp: requests.Session) -> None:
    everything = {"filter[visibility]": ALL_VISIBILITY, "page[size]": 4}
    sizes = [len(list_jobs(sb, pp, **everything, **{"page[number]": n})["data"]) for n in (1, 2, 3)]
    assert sizes == [4, 2, 0]
    counted = list_jobs(sb, pp, **{"stats[total]": "count"})
    assert counted["meta"]["stats"]["total"]["count"] == 4  # the confidential two are hidden


@pytest.mark.parametrize(
    "params",
    [{"include": "offers"}, {"include": "stages.job"}, {"filter[title]": "x"}],
)
def test_bad_jobs_parameters_are_400(
    sb: Sandbox, pp: requests.Session, params: dict[str, str]
) -> None:
    (name,) = params
    parameter = name if name.startswith("filter") else "include"
    assert_jsonapi_error(pp.get(f"{sb.pinpoint_url}/jobs", params=params), 400, parameter)


def test_relationships_carry_data_only_when_included(sb: Sandbox, pp: requests.Session) -> None:
    row = list_apps(sb, pp)["data"][0]
    assert row["relationships"] == {
        "job": NOT_INCLUDED,
        "stage": NOT_INCLUDED,
        "offers": NOT_INCLUDED,
        "comments": NOT_INCLUDED,
    }
    app = sb.pinpoint.applications[row["id"]]
    attributes = row["attributes"]
    assert (attributes["stage_id"], attributes["job_id"]) == (app.stage_id, app.job_id)
    single = fetch(sb, pp, row["id"]).json()["data"]
    assert single["relationships"] == row["relationships"]
    assert (single["attributes"]["stage_id"], single["attributes"]["job_id"]) == (
        app.stage_id,
        app.job_id,
    )
    assert "included" not in single


def test_hired_at_and_start_on(sb: Sandbox, pp: requests.Session) -> None:
    rows = list_apps(sb, pp, **{"filter[job_visibility]": ALL_VISIBILITY})["data"]
    hired = set(sb.hired_application_ids())
    for row in rows:
        attributes = row["attributes"]
        if row["id"] in hired:
            assert TS.match(attributes["hired_at"])
            assert attributes["hired_at"] == attributes["updated_at"]  # seeded hires
        else:
            assert attributes["hired_at"] is None
        assert attributes["start_on"] is None or DAY.match(attributes["start_on"])
    assert any(r["attributes"]["start_on"] for r in rows)
    app_id = sb.pinpoint.add_hire("Ada", "Lovelace", "ada@example.com", start_on="2025-04-01")
    assert fetch(sb, pp, app_id).json()["data"]["attributes"]["start_on"] == "2025-04-01"


def test_include_stage_and_job_in_listing(sb: Sandbox, pp: requests.Session) -> None:
    body = list_apps(sb, pp, include="stage,job")
    included = by_type(body)
    assert set(included) == {"stages", "jobs"}
    for row in body["data"]:
        assert row["relationships"]["stage"]["data"]["id"] in included["stages"]
        assert row["relationships"]["job"]["data"]["id"] in included["jobs"]
        assert row["relationships"]["offers"] == NOT_INCLUDED
    assert len(included["jobs"]) < len(body["data"])  # a job shared by rows is there once
    for job in included["jobs"].values():
        assert job["relationships"]["location"] == NOT_INCLUDED
    assert all(TS.match(r["attributes"]["updated_at"]) for r in body["data"])
    everything = body["data"] + body["included"]
    assert all(isinstance(r["id"], str) for r in everything)


def test_dotted_include_paths_bring_the_job_too(sb: Sandbox, pp: requests.Session) -> None:
    apps = sb.pinpoint.applications
    app_id = next(i for i in sb.hired_application_ids() if apps[i].offers)
    body = fetch(
        sb,
        pp,
        app_id,
        include="job.location,job.department,offers",
        **{"extra_fields[applications]": "attachments"},
    ).json()
    data, included = body["data"], by_type(body)
    assert set(included) == {"jobs", "locations", "departments", "offers"}
    job = included["jobs"][data["relationships"]["job"]["data"]["id"]]
    assert job["attributes"]["title"] and "department" not in job["attributes"]
    location = included["locations"][job["relationships"]["location"]["data"]["id"]]
    assert location["attributes"]["name"] in {"London, United Kingdom", "New York, United States"}
    department = included["departments"][job["relationships"]["department"]["data"]["id"]]
    assert department["attributes"]["name"] in {"Engineering", "Product", "Sales"}
    assert data["relationships"]["stage"] == NOT_INCLUDED
    offer_ids = [o["id"] for o in data["relationships"]["offers"]["data"]]
    assert offer_ids == [o.id for o in apps[app_id].offers]
    for offer in included["offers"].values():
        assert set(offer["attributes"]) == {"start_on", "status"}
        assert DAY.match(offer["attributes"]["start_on"])
    assert "start_date" not in str(body)

    only_location = fetch(sb, pp, app_id, include="job.location").json()
    assert set(by_type(only_location)) == {"jobs", "locations"}
    (job,) = by_type(only_location)["jobs"].values()
    assert job["relationships"]["department"] == NOT_INCLUDED
    assert only_location["data"]["relationships"]["job"]["data"]["id"] == job["id"]


def test_offers_in_several_statuses(sb: Sandbox, pp: requests.Session) -> None:
    app_id = sb.pinpoint.add_hire(
        "Ada",
        "Lovelace",
        "ada@example.com",
        offers=[
            {"start_on": "2025-03-03", "status": "declined"},
            {"start_on": None, "status": "withdrawn"},
            {"start_on": "2025-03-10", "status": "pending"},
        ],
        start_date="2025-03-17",
    )
    body = fetch(sb, pp, app_id, include="offers").json()
    offers = [
        by_type(body)["offers"][ref["id"]]["attributes"]
        for ref in body["data"]["relationships"]["offers"]["data"]
    ]
    assert offers == [
        {"start_on": "2025-03-03", "status": "declined"},
        {"start_on": None, "status": "withdrawn"},
        {"start_on": "2025-03-10", "status": "pending"},
        {"start_on": "2025-03-17", "status": "accepted"},
    ]
    with pytest.raises(ValueError, match="status"):
        sb.pinpoint.add_hire("X", "Y", None, offers=[{"status": "signed"}])


@pytest.mark.parametrize(
    "include", ["candidate", "job.stages", "stages", "job.location.country", "offers,nope"]
)
def test_unknown_include_path_is_400_naming_it(
    sb: Sandbox, pp: requests.Session, include: str
) -> None:
    bad = include.rsplit(",", maxsplit=1)[-1]
    for response in (
        fetch(sb, pp, sb.hired_application_ids()[0], include=include),
        pp.get(f"{sb.pinpoint_url}/applications", params={"include": include}),
    ):
        error = assert_jsonapi_error(response, 400, "include")
        assert bad in error["detail"]


def test_confidential_application_needs_the_visibility_filter(
    sb: Sandbox, pp: requests.Session
) -> None:
    jobs, apps = sb.pinpoint.jobs, sb.pinpoint.applications
    secret = next(i for i, a in apps.items() if jobs[a.job_id].visibility == "confidential")
    url = f"{sb.pinpoint_url}/applications/{secret}"
    unfiltered = pp.get(url)
    assert_jsonapi_error(unfiltered, 404)
    assert unfiltered.json() == fetch(sb, pp, "1").json()  # exactly like an unknown id
    assert_jsonapi_error(pp.get(url, params={"filter[job_visibility]": "external"}), 404)
    assert pp.get(url, params={"filter[job_visibility]": ALL_VISIBILITY}).status_code == 200
    assert pp.get(url, params={"filter[job_visibility]": "confidential"}).status_code == 200
    public = next(i for i, a in apps.items() if jobs[a.job_id].visibility == "external")
    assert pp.get(f"{sb.pinpoint_url}/applications/{public}").status_code == 200
    assert_jsonapi_error(pp.get(url, params={"filter[stage_id]": "1"}), 400, "filter[stage_id]")


def test_timestamps_carry_an_offset(sb: Sandbox, pp: requests.Session) -> None:
    data = fetch(sb, pp, sb.hired_application_ids()[0]).json()["data"]
    assert TS.match(data["attributes"]["updated_at"]) and TS.match(data["attributes"]["created_at"])
    assert datetime.fromisoformat(data["attributes"]["hired_at"]).utcoffset() is not None


def a_hire_with_cv(sb: Sandbox) -> str:
    apps = sb.pinpoint.applications
    return next(i for i in sb.hired_application_ids() if len(apps[i].attachments) == 2)


def test_attachments_only_with_scoped_extra_fields(sb: Sandbox, pp: requests.Session) -> None:
    app_id = a_hire_with_cv(sb)
    url = f"{sb.pinpoint_url}/applications/{app_id}"
    assert "attachments" not in pp.get(url).json()["data"]["attributes"]
    bare = pp.get(url, params={"extra_fields": "attachments"}).json()
    assert "attachments" not in bare["data"]["attributes"]
    scoped = pp.get(url, params={"extra_fields[applications]": "attachments"}).json()
    attachments = scoped["data"]["attributes"]["attachments"]
    assert {a["context"] for a in attachments} == {"cv", "pdf_cv"}
    assert all("X-Amz-Signature=" in a["url"] for a in attachments)


def cv_urls(sb: Sandbox, pp: requests.Session, app_id: str) -> dict[str, str]:
    body = pp.get(
        f"{sb.pinpoint_url}/applications/{app_id}",
        params={"extra_fields[applications]": "attachments"},
    ).json()
    return {a["context"]: a["url"] for a in body["data"]["attributes"]["attachments"]}


def test_cv_files_are_served_with_a_checked_signature(sb: Sandbox, pp: requests.Session) -> None:
    urls = cv_urls(sb, pp, a_hire_with_cv(sb))
    pdf = requests.get(urls["pdf_cv"], timeout=5)  # no API key: the signature is the credential
    assert pdf.status_code == 200
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and pdf.content.rstrip().endswith(b"%%EOF")
    docx = requests.get(urls["cv"], timeout=5)
    assert docx.headers["Content-Type"].endswith("wordprocessingml.document")
    assert "word/document.xml" in zipfile.ZipFile(io.BytesIO(docx.content)).namelist()

    tampered = re.sub(r"X-Amz-Signature=\w", "X-Amz-Signature=0", urls["pdf_cv"])
    assert requests.get(tampered, timeout=5).status_code == 403
    assert requests.get(urls["pdf_cv"].split("?")[0], timeout=5).status_code == 403
    assert requests.get(urls["pdf_cv"].replace(".pdf?", ".txt?"), timeout=5).status_code == 404


def test_cv_files_with_non_latin_names_are_served(sb: Sandbox, pp: requests.Session) -> None:
    """HTTP headers are Latin-1: the name goes in RFC 6266's filename*, with an ASCII fallback."""
    app_id = sb.pinpoint.add_hire("Zoë", 'Łukasz "Li" 李', "zoe@example.com", cv="pdf")
    (url,) = cv_urls(sb, pp, app_id).values()
    pdf = requests.get(url, timeout=5)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    disposition = pdf.headers["Content-Disposition"]
    assert disposition.isascii()
    assert 'filename="zo___ukasz__li___.pdf"' in disposition
    encoded = disposition.split("filename*=UTF-8''")[1]
    assert unquote(encoded) == 'zoë_łukasz_"li"_李.pdf'


def test_cv_links_expire(sb: Sandbox, pp: requests.Session) -> None:
    url = cv_urls(sb, pp, a_hire_with_cv(sb))["pdf_cv"]
    sb.clock.advance(sb.pinpoint.url_lifetime_seconds + 1)
    expired = requests.get(url, timeout=5)
    assert expired.status_code == 403
    assert b"AccessDenied" in expired.content


def test_renamed_stages_keep_their_basic_type(sb: Sandbox, pp: requests.Session) -> None:
    workflow = [("New", "applied"), ("Chat", "interview"), ("Signed!", "hired"), ("No", "rejected")]
    job = sb.pinpoint.add_job("Chef", "Kitchen", workflow=workflow)
    app_id = sb.pinpoint.add_hire("Ada", "Lovelace", "ada@example.com", job=job)
    stages = sb.pinpoint.stages
    assert stages[sb.pinpoint.hired_stage_id(job)].name == "Signed!"
    assert all(s.hired == (s.basic_type == "hired") for s in stages.values())
    hires = list_apps(sb, pp, **{"filter[stage_basic_type]": "hired", "filter[job_id]": job})
    assert [row["id"] for row in hires["data"]] == [app_id]
    departments = list_jobs(sb, pp, include="department")
    assert "Kitchen" in {r["attributes"]["name"] for r in departments["included"]}
    with pytest.raises(ValueError, match="exactly one hired"):
        sb.pinpoint.add_job("Twice", workflow=[("A", "hired"), ("B", "hired")])
    with pytest.raises(ValueError, match="basic_type"):
        sb.pinpoint.add_job("Odd", workflow=[("A", "hired"), ("B", "maybe")])
