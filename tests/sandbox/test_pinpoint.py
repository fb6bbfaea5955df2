"""Contract tests for the Pinpoint simulator, over real loopback HTTP (shared/api/pinpoint.md)."""

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

from .helpers import ALL_VISIBILITY

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


def list_apps(sb: Sandbox, pp: requests.Session, **params: Any) -> dict[str, Any]:
    response = pp.get(f"{sb.pinpoint_url}/applications", params={"page[size]": 100, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [row["id"] for row in body["data"]]


def assert_jsonapi_error(response: requests.Response, status: int) -> None:
    assert response.status_code == status
    error = response.json()["errors"][0]
    assert error["status"] == str(status)
    assert error["title"]
    assert error["detail"]


def test_missing_or_wrong_key_is_401(sb: Sandbox) -> None:
    assert_jsonapi_error(requests.get(f"{sb.pinpoint_url}/jobs", timeout=5), 401)
    wrong = requests.get(f"{sb.pinpoint_url}/jobs", headers={"X-API-KEY": "nope"}, timeout=5)
    assert_jsonapi_error(wrong, 401)


def test_integration_not_enabled_is_403(sb: Sandbox, pp: requests.Session) -> None:
    sb.pinpoint.set_forbidden(True)
    assert_jsonapi_error(pp.get(f"{sb.pinpoint_url}/applications"), 403)


def test_jobs_carry_their_stages(sb: Sandbox, pp: requests.Session) -> None:
    params = {"include": "stages", "page[number]": "1", "page[size]": "100"}
    body = pp.get(f"{sb.pinpoint_url}/jobs", params=params).json()
    stages = {s["id"]: s["attributes"]["name"] for s in body["included"]}
    assert {s["type"] for s in body["included"]} == {"stages"}
    names_by_job = {
        job["attributes"]["title"]: [
            stages[r["id"]] for r in job["relationships"]["stages"]["data"]
        ]
        for job in body["data"]
    }
    assert names_by_job["Backend Engineer"][-1] == "Hired"
    assert "Offer Accepted" in names_by_job["Account Executive"]
    assert "Hired" not in names_by_job["Account Executive"]
    visibilities = {job["attributes"]["visibility"] for job in body["data"]}
    assert "confidential" in visibilities  # the jobs listing hides nothing
    job = body["data"][0]
    assert job["attributes"]["department"] == {"name": "Engineering"}
    assert job["relationships"]["location"]["data"]["type"] == "locations"


def test_jobs_paging(sb: Sandbox, pp: requests.Session) -> None:
    sizes = [
        len(
            pp.get(f"{sb.pinpoint_url}/jobs", params={"page[number]": n, "page[size]": 4}).json()[
                "data"
            ]
        )
        for n in (1, 2, 3)
    ]
    assert sizes == [4, 2, 0]


def test_paging_edges_zero_one_and_hundred_rows(sb: Sandbox, pp: requests.Session) -> None:
    empty = list_apps(sb, pp, **{"filter[job_id]": "999999", "stats[total]": "count"})
    assert empty["data"] == []
    assert empty["meta"]["stats"]["total"]["count"] == 0

    one = list_apps(sb, pp, **{"page[size]": 1, "stats[total]": "count"})
    assert len(one["data"]) == 1
    visible = one["meta"]["stats"]["total"]["count"]

    sb.pinpoint.seed_hires(100 - visible)
    full = list_apps(sb, pp, **{"page[number]": 1, "stats[total]": "count"})
    assert len(full["data"]) == 100
    assert full["meta"]["stats"]["total"]["count"] == 100
    assert list_apps(sb, pp, **{"page[number]": 2})["data"] == []
    assert "links" not in full  # no cursor, no links.next


@pytest.mark.parametrize(
    "params",
    [
        {"page[size]": 101},
        {"page[size]": 0},
        {"page[number]": 0},
        {"page[size]": "ten"},
        {"stats[total]": "sum"},
        {"sort": "name"},
        {"include": "candidate"},
        {"filter[job_visibility]": "secret"},
        {"filter[updated_at][gte]": "yesterday"},
        {"filter[colour]": "blue"},
    ],
)
def test_bad_listing_parameters_are_400(
    sb: Sandbox, pp: requests.Session, params: dict[str, Any]
) -> None:
    assert_jsonapi_error(pp.get(f"{sb.pinpoint_url}/applications", params=params), 400)


def test_pages_cover_every_row_once(sb: Sandbox, pp: requests.Session) -> None:
    everything = ids(list_apps(sb, pp, **{"filter[job_visibility]": ALL_VISIBILITY}))
    paged: list[str] = []
    for number in range(1, 10):
        page = list_apps(
            sb,
            pp,
            **{"page[number]": number, "page[size]": 5, "filter[job_visibility]": ALL_VISIBILITY},
        )
        paged += ids(page)
        if len(page["data"]) < 5:
            break
    assert paged == everything
    assert "meta" in page and "stats" not in page["meta"]


def test_confidential_applications_only_when_asked(sb: Sandbox, pp: requests.Session) -> None:
    jobs = sb.pinpoint.jobs
    apps = sb.pinpoint.applications
    confidential = {a.id for a in apps.values() if jobs[a.job_id].visibility == "confidential"}
    assert confidential

    default = set(ids(list_apps(sb, pp)))
    everything = set(ids(list_apps(sb, pp, **{"filter[job_visibility]": ALL_VISIBILITY})))
    only = set(ids(list_apps(sb, pp, **{"filter[job_visibility]": "confidential"})))
    assert default == set(apps) - confidential
    assert everything == set(apps)
    assert only == confidential


def hired_stage_ids(sb: Sandbox, pp: requests.Session) -> set[str]:
    body = pp.get(
        f"{sb.pinpoint_url}/jobs", params={"include": "stages", "page[size]": "100"}
    ).json()
    return {
        s["id"]
        for s in body["included"]
        if s["attributes"]["name"].lower() in {"hired", "offer accepted"}
    }


def test_stage_filter_finds_every_hire(sb: Sandbox, pp: requests.Session) -> None:
    stage_ids = ",".join(sorted(hired_stage_ids(sb, pp)))
    found = list_apps(
        sb, pp, **{"filter[stage_id]": stage_ids, "filter[job_visibility]": ALL_VISIBILITY}
    )
    assert set(ids(found)) == set(sb.hired_application_ids())
    assert all(row["relationships"]["stage"]["data"]["id"] in stage_ids for row in found["data"])


def test_job_filter(sb: Sandbox, pp: requests.Session) -> None:
    found = list_apps(sb, pp, **{"filter[job_id]": "17"})
    assert found["data"]
    assert {row["relationships"]["job"]["data"]["id"] for row in found["data"]} == {"17"}


def test_updated_at_filter_and_sort(sb: Sandbox, pp: requests.Session) -> None:
    rows = list_apps(sb, pp, **{"filter[job_visibility]": ALL_VISIBILITY, "sort": "updated_at"})[
        "data"
    ]
    times = [datetime.fromisoformat(r["attributes"]["updated_at"]) for r in rows]
    assert times == sorted(times)
    cut = times[len(times) // 2]
    newer = list_apps(
        sb,
        pp,
        **{
            "filter[job_visibility]": ALL_VISIBILITY,
            "filter[updated_at][gte]": cut.isoformat(),
            "sort": "-updated_at",
        },
    )
    newer_times = [datetime.fromisoformat(r["attributes"]["updated_at"]) for r in newer["data"]]
    assert newer_times == sorted((t for t in times if t >= cut), reverse=True)


def test_unescaped_plus_in_time_filter_still_parses(sb: Sandbox, pp: requests.Session) -> None:
    # A client that forgets to escape "+00:00" sends a space after decoding.
    url = f"{sb.pinpoint_url}/applications?filter[updated_at][gte]=2000-01-01T00:00:00+00:00"
    assert pp.get(url).status_code == 200


def test_updated_at_filter_can_be_switched_off(sb: Sandbox, pp: requests.Session) -> None:
    sb.pinpoint.set_updated_at_filter(False)
    params = {"filter[updated_at][gte]": "2025-01-01T00:00:00+00:00"}
    assert_jsonapi_error(pp.get(f"{sb.pinpoint_url}/applications", params=params), 400)


def test_include_stage_and_job_in_listing(sb: Sandbox, pp: requests.Session) -> None:
    body = list_apps(sb, pp, include="stage,job")
    included = {(r["type"], r["id"]) for r in body["included"]}
    for row in body["data"]:
        assert ("stages", row["relationships"]["stage"]["data"]["id"]) in included
        assert ("jobs", row["relationships"]["job"]["data"]["id"]) in included
    assert all(TS.match(r["attributes"]["updated_at"]) for r in body["data"])
    assert all(isinstance(r["id"], str) for r in body["data"] + body["included"])


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


def test_single_fetch_with_job_location_and_offer(sb: Sandbox, pp: requests.Session) -> None:
    apps = sb.pinpoint.applications
    app_id = next(i for i in sb.hired_application_ids() if apps[i].offers)
    body = pp.get(
        f"{sb.pinpoint_url}/applications/{app_id}",
        params={"extra_fields[applications]": "attachments", "include": "job,offers"},
    ).json()
    data = body["data"]
    assert data["id"] == app_id and data["type"] == "applications"
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in body["included"]:
        by_type.setdefault(resource["type"], []).append(resource)
    job = by_type["jobs"][0]
    assert job["id"] == data["relationships"]["job"]["data"]["id"]
    assert job["attributes"]["title"] and job["attributes"]["department"]["name"]
    location_id = job["relationships"]["location"]["data"]["id"]
    location = next(r for r in by_type["locations"] if r["id"] == location_id)
    assert location["attributes"]["name"] in {"London, United Kingdom", "New York, United States"}
    assert re.match(r"^\d{4}-\d\d-\d\d$", by_type["offers"][0]["attributes"]["start_date"])
    assert TS.match(data["attributes"]["updated_at"])


def test_unknown_application_is_404(sb: Sandbox, pp: requests.Session) -> None:
    assert_jsonapi_error(pp.get(f"{sb.pinpoint_url}/applications/1"), 404)


def comment(
    app_id: str, text: str | None = "Employee created in HiBob with ID 1"
) -> dict[str, Any]:
    attributes = {} if text is None else {"body_text": text}
    return {
        "data": {
            "type": "comments",
            "attributes": attributes,
            "relationships": {"commentable": {"data": {"type": "applications", "id": app_id}}},
        }
    }


def test_comment_is_created(sb: Sandbox, pp: requests.Session) -> None:
    app_id = sb.hired_application_ids()[0]
    response = pp.post(
        f"{sb.pinpoint_url}/comments",
        json=comment(app_id),
        headers={"Content-Type": "application/vnd.api+json"},
    )
    assert response.status_code == 201
    data = response.json()["data"]
    assert isinstance(data["id"], str) and data["type"] == "comments"
    assert sb.pinpoint.comments[data["id"]].application_id == app_id
    assert sb.audit().comments_per_application() == {app_id: 1}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (comment("8863902", None), 422),
        (comment("8863902", "   "), 422),
        (comment("424242"), 422),
        ({"data": {"type": "comments", "attributes": {"body_text": "x"}}}, 422),
        ({"nothing": True}, 400),
    ],
)
def test_comment_validation(
    sb: Sandbox, pp: requests.Session, body: dict[str, Any], status: int
) -> None:
    assert_jsonapi_error(pp.post(f"{sb.pinpoint_url}/comments", json=body), status)
    assert sb.audit().comments_per_application() == {}


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
