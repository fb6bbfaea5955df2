"""Pinpoint edits after the hire (shared/api/pinpoint.md "After the hire: what can still
change"): the candidate's copy, offers, start_on and the job, with and without moving
updated_at (the edits_touch_updated_at setting), over real HTTP."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
import requests

from poller.sandbox import Sandbox
from poller.sandbox.records import Application

from .helpers import ALL_VISIBILITY, control, ids, list_apps

INCLUDE = "job,job.location,job.department,offers"


def by_type(body: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for resource in body.get("included", []):
        found.setdefault(resource["type"], {})[resource["id"]] = resource
    return found


def fetch(sb: Sandbox, pp: requests.Session, app_id: str) -> dict[str, Any]:
    response = pp.get(
        f"{sb.pinpoint_url}/applications/{app_id}",
        params={"include": INCLUDE, "filter[job_visibility]": ALL_VISIBILITY},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def view(body: dict[str, Any]) -> dict[str, Any]:
    """An application and what it includes, without the updated_at times."""

    def bare(resource: dict[str, Any]) -> dict[str, Any]:
        attributes = {k: v for k, v in resource["attributes"].items() if k != "updated_at"}
        return {**resource, "attributes": attributes}

    return {"data": bare(body["data"]), "included": [bare(r) for r in body["included"]]}


def changed_since(sb: Sandbox, pp: requests.Session, since: datetime) -> list[str]:
    params = {"filter[updated_at][gt]": since.isoformat(), "filter[job_visibility]": ALL_VISIBILITY}
    return ids(list_apps(sb, pp, **params))


def hire_with_offer(sb: Sandbox) -> Application:
    apps = sb.pinpoint.applications
    return next(apps[i] for i in sb.hired_application_ids() if apps[i].offers)


def edit(sb: Sandbox, kind: str, app: Application) -> dict[str, Any]:
    """Make one kind of edit through the control plane; returns its answer."""
    routes: dict[str, tuple[str, dict[str, Any]]] = {
        "candidate": (
            "candidate",
            {"application_id": app.id, "first_name": "Ada", "email": "ada.king@example.com"},
        ),
        "offer_added": (
            "offers",
            {"application_id": app.id, "start_on": "2025-04-01", "status": "accepted"},
        ),
        "offer_changed": ("offers", {"offer_id": app.offers[0].id, "start_on": "2025-04-01"}),
        "start_on": ("start-on", {"application_id": app.id, "start_on": "2025-04-01"}),
        "job_title": ("job", {"job_id": app.job_id, "title": "Principal Engineer"}),
        "job_location": ("job", {"job_id": app.job_id, "location": "Lisbon, Portugal"}),
        "job_department": ("job", {"job_id": app.job_id, "department": "Platform"}),
    }
    path, body = routes[kind]
    answer = control(sb, "pinpoint", path, body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


EDITS = [
    "candidate",
    "offer_added",
    "offer_changed",
    "start_on",
    "job_title",
    "job_location",
    "job_department",
]


@pytest.mark.parametrize("touch", [True, False])
@pytest.mark.parametrize("kind", EDITS)
def test_an_edit_moves_updated_at_only_when_set(
    sb: Sandbox, pp: requests.Session, kind: str, touch: bool
) -> None:
    config = control(sb, "pinpoint", "config", {"edits_touch_updated_at": touch}).json()
    assert config["edits_touch_updated_at"] is touch
    app = hire_with_offer(sb)
    before = fetch(sb, pp, app.id)
    sb.clock.advance(60)
    since = sb.clock.now().replace(microsecond=0)
    assert changed_since(sb, pp, since) == []
    sb.clock.advance(1)

    edit(sb, kind, app)
    after = fetch(sb, pp, app.id)
    assert view(after) != view(before)  # the data changed either way
    moved = after["data"]["attributes"]["updated_at"] != before["data"]["attributes"]["updated_at"]
    assert moved is touch
    assert (app.id in changed_since(sb, pp, since)) is touch


def test_the_default_is_to_move_updated_at(sb: Sandbox) -> None:
    assert sb.pinpoint.config()["edits_touch_updated_at"] is True
    assert sb.pinpoint.edits_touch_updated_at is True


def test_candidate_edit_shows_in_the_fetch_and_the_listing(
    sb: Sandbox, pp: requests.Session
) -> None:
    app = hire_with_offer(sb)
    body = {"application_id": app.id, "first_name": "Ada", "last_name": "King"}
    assert control(sb, "pinpoint", "candidate", body).json() == {"ok": True}
    control(sb, "pinpoint", "candidate", {"application_id": app.id, "email": "ada@example.com"})
    attributes = fetch(sb, pp, app.id)["data"]["attributes"]
    assert (attributes["first_name"], attributes["last_name"], attributes["email"]) == (
        "Ada",
        "King",
        "ada@example.com",
    )
    rows = list_apps(sb, pp, **{"filter[job_visibility]": ALL_VISIBILITY})["data"]
    (row,) = [r for r in rows if r["id"] == app.id]
    assert {k: row["attributes"][k] for k in ("first_name", "last_name", "email")} == {
        "first_name": "Ada",
        "last_name": "King",
        "email": "ada@example.com",
    }


def test_job_edit_is_seen_by_every_application_of_the_job(
    sb: Sandbox, pp: requests.Session
) -> None:
    apps = sb.pinpoint.applications
    job_id = max(sb.pinpoint.jobs, key=lambda j: sum(a.job_id == j for a in apps.values()))
    of_job = {a.id for a in apps.values() if a.job_id == job_id}
    assert len(of_job) >= 2
    old = sb.pinpoint.jobs[job_id]
    sb.clock.advance(60)
    since = sb.clock.now().replace(microsecond=0)
    sb.clock.advance(1)

    body = {
        "job_id": job_id,
        "title": "Principal Engineer",
        "location": "Lisbon, Portugal",
        "department": "Platform",
    }
    answer = control(sb, "pinpoint", "job", body).json()
    assert answer["ok"] is True and set(answer["application_ids"]) == of_job
    listing = list_apps(
        sb,
        pp,
        include=INCLUDE,
        **{"filter[job_id]": job_id, "filter[job_visibility]": ALL_VISIBILITY},
    )
    assert set(ids(listing)) == of_job
    included = by_type(listing)
    job = included["jobs"][job_id]
    assert job["attributes"]["title"] == "Principal Engineer"
    assert job["attributes"]["updated_at"] > old.updated_at.isoformat()
    location = included["locations"][job["relationships"]["location"]["data"]["id"]]
    department = included["departments"][job["relationships"]["department"]["data"]["id"]]
    assert location["attributes"]["name"] == "Lisbon, Portugal"
    assert department["attributes"]["name"] == "Platform"
    assert location["id"] != old.location_id and department["id"] != old.department_id
    assert of_job <= set(changed_since(sb, pp, since))
    untouched = set(sb.pinpoint.applications) - of_job
    assert not untouched & set(changed_since(sb, pp, since))

    # A known name is the existing location, not a new one.
    control(sb, "pinpoint", "job", {"job_id": job_id, "location": "Lisbon, Portugal"})
    known = sb.pinpoint.locations
    assert [loc.name for loc in known.values()].count("Lisbon, Portugal") == 1
    back = {"job_id": job_id, "location": sb.pinpoint.locations[old.location_id].name}
    control(sb, "pinpoint", "job", back)
    assert sb.pinpoint.jobs[job_id].location_id == old.location_id

    state = control(sb, "pinpoint", "state").json()
    (row,) = [j for j in state["jobs"] if j["id"] == job_id]
    assert (row["title"], row["department"]) == ("Principal Engineer", "Platform")
    assert row["location"] == sb.pinpoint.locations[old.location_id].name


def test_listing_includes_and_candidate_copy(sb: Sandbox, pp: requests.Session) -> None:
    body = list_apps(
        sb,
        pp,
        include=INCLUDE,
        **{"filter[job_visibility]": ALL_VISIBILITY, "filter[stage_basic_type]": "hired"},
    )
    assert set(ids(body)) == set(sb.hired_application_ids())
    included = by_type(body)
    assert set(included) == {"jobs", "locations", "departments", "offers"}
    apps, jobs = sb.pinpoint.applications, sb.pinpoint.jobs
    for row in body["data"]:
        app, attributes = apps[row["id"]], row["attributes"]
        start_on = app.start_on.isoformat() if app.start_on else None
        assert (
            attributes["first_name"],
            attributes["last_name"],
            attributes["email"],
            attributes["start_on"],
        ) == (app.first_name, app.last_name, app.email, start_on)
        job = included["jobs"][row["relationships"]["job"]["data"]["id"]]
        assert job["attributes"]["title"] == jobs[app.job_id].title
        location_id = job["relationships"]["location"]["data"]["id"]
        department_id = job["relationships"]["department"]["data"]["id"]
        assert location_id in included["locations"] and department_id in included["departments"]
        offer_ids = [o["id"] for o in row["relationships"]["offers"]["data"]]
        assert offer_ids == [o.id for o in app.offers]
        assert all(i in included["offers"] for i in offer_ids)
    assert any(row["attributes"]["start_on"] for row in body["data"])
    # Each included resource is there once.
    assert len(body["included"]) == len({(r["type"], r["id"]) for r in body["included"]})


def test_python_api(sb: Sandbox) -> None:
    pinpoint = sb.pinpoint
    app = hire_with_offer(sb)
    sb.clock.advance(60)
    pinpoint.edit_candidate(app.id, first_name="Ada", touch=False)
    edited = pinpoint.applications[app.id]
    assert (edited.first_name, edited.last_name) == ("Ada", app.last_name)
    assert edited.updated_at == app.updated_at

    pinpoint.set_edits_touch_updated_at(False)
    assert pinpoint.config()["edits_touch_updated_at"] is False
    pinpoint.edit_candidate(app.id, last_name="King", email="ada@example.com")
    pinpoint.add_offer(app.id, "2025-04-01", "accepted")
    pinpoint.update_offer(app.offers[0].id, status="withdrawn")
    pinpoint.set_start_on(app.id, "2025-04-01")
    of_job = pinpoint.edit_job(app.job_id, title="Principal Engineer")
    assert app.id in of_job
    edited = pinpoint.applications[app.id]
    assert (edited.last_name, edited.email) == ("King", "ada@example.com")
    assert edited.start_on == date(2025, 4, 1)
    assert edited.offers[0].status == "withdrawn" and len(edited.offers) == len(app.offers) + 1
    assert edited.updated_at == app.updated_at
    assert pinpoint.jobs[app.job_id].title == "Principal Engineer"

    pinpoint.edit_job(app.job_id, department="Platform", touch=True)  # an explicit touch wins
    assert pinpoint.applications[app.id].updated_at > app.updated_at

    with pytest.raises(ValueError, match="at least one"):
        pinpoint.edit_candidate(app.id)
    with pytest.raises(ValueError, match="first_name"):
        pinpoint.edit_candidate(app.id, first_name=" ")
    with pytest.raises(ValueError, match="title"):
        pinpoint.edit_job(app.job_id, title=5)  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        pinpoint.edit_candidate("1", first_name="Ada")
    with pytest.raises(KeyError):
        pinpoint.edit_job("999", title="Chef")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("candidate", {"first_name": "Ada"}),
        ("candidate", {"application_id": "1", "first_name": "Ada"}),
        ("candidate", {"application_id": "APP"}),
        ("candidate", {"application_id": "APP", "phone": "+44"}),
        ("candidate", {"application_id": "APP", "email": ""}),
        ("job", {"title": "Chef"}),
        ("job", {"job_id": "999", "title": "Chef"}),
        ("job", {"job_id": "JOB"}),
        ("job", {"job_id": "JOB", "visibility": "internal"}),
        ("job", {"job_id": "JOB", "department": 7}),
    ],
)
def test_edit_routes_refuse_bad_bodies(sb: Sandbox, path: str, body: dict[str, Any]) -> None:
    app = hire_with_offer(sb)
    filled = {k: app.id if v == "APP" else app.job_id if v == "JOB" else v for k, v in body.items()}
    answer = control(sb, "pinpoint", path, filled)
    assert answer.status_code == 400, answer.text
    assert "error" in answer.json()
    assert sb.pinpoint.applications[app.id] == app
