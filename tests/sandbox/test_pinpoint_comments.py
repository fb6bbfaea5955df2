"""Comments (post, list, include) and the key's per-resource scopes (shared/api/pinpoint.md)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from poller.sandbox import Sandbox

from .helpers import ALL_VISIBILITY, assert_jsonapi_error, comment, control

JSONAPI_WRITE = {"Content-Type": "application/vnd.api+json"}


def post(sb: Sandbox, pp: requests.Session, body: Any) -> requests.Response:
    return pp.post(f"{sb.pinpoint_url}/comments", json=body, headers=JSONAPI_WRITE)


def comments_of(sb: Sandbox, pp: requests.Session, app_id: str, **params: Any) -> dict[str, Any]:
    query = {"filter[commentable_type]": "Application", "filter[commentable_id]": app_id}
    response = pp.get(f"{sb.pinpoint_url}/comments", params={**query, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_comment_is_created_as_recorded(sb: Sandbox, pp: requests.Session) -> None:
    app_id = sb.hired_application_ids()[0]
    response = post(sb, pp, comment(app_id, "Employee created in HiBob with ID 339"))
    assert response.status_code == 201
    data = response.json()["data"]
    assert isinstance(data["id"], str) and data["type"] == "comments"
    attributes = data["attributes"]
    assert attributes["body_text"] == "Employee created in HiBob with ID 339"
    assert (attributes["commentable_id"], attributes["commentable_type"]) == (
        app_id,
        "Application",
    )
    assert data["relationships"]["commentable"] == {"meta": {"included": False}}
    assert sb.pinpoint.comments[data["id"]].application_id == app_id
    assert sb.audit().comments_per_application() == {app_id: 1}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (comment("8863902", None), 422),
        (comment("8863902", "   "), 422),
        (comment("424242"), 422),
        (comment(8863902), 422),  # a number is not an id
        ({"data": {"type": "comments", "attributes": {"body_text": "x"}}}, 422),
        ({"nothing": True}, 400),
    ],
)
def test_comment_validation(
    sb: Sandbox, pp: requests.Session, body: dict[str, Any], status: int
) -> None:
    assert_jsonapi_error(post(sb, pp, body), status)
    assert sb.audit().comments_per_application() == {}


def test_a_numeric_commentable_id_is_refused_as_recorded(sb: Sandbox, pp: requests.Session) -> None:
    app_id = sb.hired_application_ids()[0]
    error = assert_jsonapi_error(post(sb, pp, comment(int(app_id))), 422)
    assert error["detail"] == "Commentable must exist"
    assert sb.pinpoint.comments == {}


def test_comments_are_listed_per_application(sb: Sandbox, pp: requests.Session) -> None:
    first, second = sb.hired_application_ids()[:2]
    for text in ("one", "two", "three"):
        assert post(sb, pp, comment(first, text)).status_code == 201
    assert post(sb, pp, comment(second, "other")).status_code == 201
    listed = comments_of(sb, pp, first, **{"stats[total]": "count"})
    assert [c["attributes"]["body_text"] for c in listed["data"]] == ["one", "two", "three"]
    assert listed["meta"]["stats"]["total"]["count"] == 3
    row = listed["data"][0]
    assert row["type"] == "comments" and isinstance(row["id"], str)
    assert row["attributes"]["commentable_id"] == first
    assert row["attributes"]["commentable_type"] == "Application"
    assert row["attributes"]["created_at"].endswith("+00:00")
    paged = comments_of(sb, pp, first, **{"page[size]": 2, "page[number]": 2})
    assert [c["attributes"]["body_text"] for c in paged["data"]] == ["three"]
    assert comments_of(sb, pp, sb.hired_application_ids()[2])["data"] == []
    other_type = comments_of(sb, pp, first, **{"filter[commentable_type]": "Job"})
    assert other_type["data"] == []
    bad = pp.get(f"{sb.pinpoint_url}/comments", params={"filter[author]": "x"})
    assert_jsonapi_error(bad, 400, "filter[author]")


def test_comments_can_be_included_on_the_application(sb: Sandbox, pp: requests.Session) -> None:
    app_id = sb.hired_application_ids()[0]
    posted = [post(sb, pp, comment(app_id, t)).json()["data"]["id"] for t in ("a", "b")]
    body = pp.get(
        f"{sb.pinpoint_url}/applications/{app_id}",
        params={"include": "comments", "filter[job_visibility]": ALL_VISIBILITY},
    ).json()
    assert [r["id"] for r in body["data"]["relationships"]["comments"]["data"]] == posted
    assert [(r["type"], r["attributes"]["body_text"]) for r in body["included"]] == [
        ("comments", "a"),
        ("comments", "b"),
    ]


# (request, params, the scope it needs)
NEEDS = [
    ("GET /jobs", {}, "jobs:read"),
    ("GET /jobs", {"include": "stages"}, "stages:read"),
    ("GET /jobs", {"include": "location"}, "locations:read"),
    ("GET /jobs", {"include": "department"}, "departments:read"),
    ("GET /applications", {}, "applications:read"),
    ("GET /applications", {"include": "job"}, "jobs:read"),
    ("GET /applications", {"include": "stage"}, "stages:read"),
    ("GET /applications", {"include": "offers"}, "offers:read"),
    ("GET /applications", {"include": "comments"}, "comments:read"),
    ("GET /applications", {"include": "job.location"}, "locations:read"),
    ("GET /applications", {"include": "job.location"}, "jobs:read"),
    ("GET /applications", {"include": "job.department"}, "departments:read"),
    ("GET /applications/{id}", {}, "applications:read"),
    ("GET /applications/{id}", {"include": "offers"}, "offers:read"),
    ("GET /applications/{id}", {"include": "job.department"}, "departments:read"),
    ("GET /comments", {}, "comments:read"),
    ("POST /comments", {}, "applications:write"),
]


def call(sb: Sandbox, pp: requests.Session, endpoint: str, params: dict[str, str]) -> Any:
    method, path = endpoint.split(" ")
    app_id = sb.hired_application_ids()[0]
    url = sb.pinpoint_url + path.replace("{id}", app_id)
    if method == "POST":
        return post(sb, pp, comment(app_id))
    if path.startswith("/applications"):
        params = {**params, "filter[job_visibility]": ALL_VISIBILITY}
    return pp.get(url, params=params)


@pytest.mark.parametrize(("endpoint", "params", "scope"), NEEDS)
def test_a_missing_scope_is_403_naming_it(
    sb: Sandbox, pp: requests.Session, endpoint: str, params: dict[str, str], scope: str
) -> None:
    assert call(sb, pp, endpoint, params).status_code in (200, 201)
    sb.pinpoint.configure({"missing_scopes": [scope]})
    resource, access = scope.split(":")
    error = assert_jsonapi_error(call(sb, pp, endpoint, params), 403)
    assert error["detail"] == f"This API key has no {access} access to {resource}"


def test_a_missing_scope_leaves_other_resources_alone(sb: Sandbox, pp: requests.Session) -> None:
    sb.pinpoint.set_missing_scopes(["comments:read", "offers:read"])
    assert pp.get(f"{sb.pinpoint_url}/jobs", params={"include": "stages"}).status_code == 200
    assert pp.get(f"{sb.pinpoint_url}/applications", params={"include": "job"}).status_code == 200
    app_id = sb.hired_application_ids()[0]
    assert post(sb, pp, comment(app_id)).status_code == 201  # writing needs no comments:read
    refused = pp.get(f"{sb.pinpoint_url}/applications", params={"include": "comments,offers"})
    details = {e["detail"] for e in refused.json()["errors"]}
    assert details == {
        "This API key has no read access to comments",
        "This API key has no read access to offers",
    }
    sb.pinpoint.set_missing_scopes([])
    assert refused.status_code == 403
    assert pp.get(refused.url).status_code == 200


def test_scopes_over_the_control_plane(sb: Sandbox, pp: requests.Session) -> None:
    answer = control(sb, "pinpoint", "config", {"missing_scopes": ["applications:write"]})
    assert answer.json()["missing_scopes"] == ["applications:write"]
    assert post(sb, pp, comment(sb.hired_application_ids()[0])).status_code == 403
    assert control(sb, "pinpoint", "config", {"missing_scopes": ["jobs:write"]}).status_code == 400
    assert control(sb, "pinpoint", "config", {"missing_scopes": "jobs:read"}).status_code == 400


def test_a_comment_can_be_seeded_without_an_audit_entry(sb: Sandbox, pp: requests.Session) -> None:
    app_id = sb.hired_application_ids()[0]
    comment_id = sb.pinpoint.add_comment(app_id, "Employee created in HiBob with ID 42")
    listed = comments_of(sb, pp, app_id)["data"]
    assert [(c["id"], c["attributes"]["body_text"]) for c in listed] == [
        (comment_id, "Employee created in HiBob with ID 42")
    ]
    assert sb.audit().comments_per_application() == {}
    with pytest.raises(KeyError):
        sb.pinpoint.add_comment("1", "x")
