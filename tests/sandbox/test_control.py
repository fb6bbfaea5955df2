"""The audit, the HTTP control plane, determinism and thread-safety."""

from __future__ import annotations

import threading
from typing import Any

import requests

from poller.sandbox import Sandbox

from .helpers import ALL_VISIBILITY, NOW, control, employee, search_body, start_of_window


def test_audit_counts(sb: Sandbox, pp: requests.Session, bob: requests.Session) -> None:
    sb.hibob.set_rate_limit("POST /people/search", 1)
    start_of_window(sb)
    emp = bob.post(f"{sb.hibob_url}/people", json=employee("Audit@Example.com")).json()["id"]
    bob.post(f"{sb.hibob_url}/people", json=employee("audit@example.com"))  # duplicate: 400
    for name in ("a.pdf", "b.pdf"):
        bob.post(f"{sb.hibob_url}/docs/people/{emp}/shared/upload", files={"file": (name, b"%PDF")})
    bob.post(f"{sb.hibob_url}/people/search", json=search_body("audit@example.com"))
    bob.post(f"{sb.hibob_url}/people/search", json=search_body("audit@example.com"))  # 429
    app_id = sb.hired_application_ids()[0]
    body = {
        "data": {
            "type": "comments",
            "attributes": {"body_text": "done"},
            "relationships": {"commentable": {"data": {"type": "applications", "id": app_id}}},
        }
    }
    pp.post(f"{sb.pinpoint_url}/comments", json=body)
    pp.get(f"{sb.pinpoint_url}/applications/{app_id}", params={"include": "job"})
    requests.get(f"{sb.pinpoint_url}/jobs", timeout=5)  # 401

    audit = sb.audit()
    assert audit.employees_created_per_email() == {"audit@example.com": 1}
    assert audit.documents_per_employee() == {emp: 2}
    assert audit.comments_per_application() == {app_id: 1}
    assert audit.write_requests("hibob") == 6
    assert audit.write_requests("pinpoint") == 1
    assert audit.write_requests() == 7
    assert audit.requests("hibob", "POST /people") == 2
    assert audit.requests("hibob", "/people/search", method="POST") == 2
    assert audit.requests("pinpoint") == 3
    assert audit.requests(method="GET") == 2
    assert audit.rate_limited() == 1
    assert audit.statuses("pinpoint") == {201: 1, 200: 1, 401: 1}
    assert audit.requests_by_endpoint()["hibob POST /docs/people/{id}/shared/upload"] == 2
    last = audit.entries[-2]
    assert (last.api, last.method, last.route, last.path, last.status) == (
        "pinpoint",
        "GET",
        "/applications/{id}",
        f"/api/v1/applications/{app_id}",
        200,
    )


def test_audit_never_records_query_strings(sb: Sandbox, pp: requests.Session) -> None:
    app_id = next(i for i in sb.hired_application_ids() if sb.pinpoint.applications[i].attachments)
    body = pp.get(
        f"{sb.pinpoint_url}/applications/{app_id}",
        params={"extra_fields[applications]": "attachments"},
    ).json()
    requests.get(body["data"]["attributes"]["attachments"][0]["url"], timeout=5)
    assert all("?" not in e.path and "Signature" not in e.path for e in sb.audit().entries)


def test_control_plane_faults_over_http(sb: Sandbox, bob: requests.Session) -> None:
    answer = control(
        sb, "hibob", "faults", {"endpoint": "POST /people", "error_rate": "always", "times": 1}
    )
    assert answer.status_code == 200
    assert answer.json()["rules"]["POST /people"]["error_rate"] == 1.0
    assert bob.post(f"{sb.hibob_url}/people", json=employee("x@example.com")).status_code == 503
    control(sb, "hibob", "faults", {"rules": {"*": {"lose_rate": 1}}})
    assert control(sb, "hibob", "faults").json()["rules"]["*"]["lose_rate"] == 1.0
    assert control(sb, "hibob", "reset-faults", {}).json() == {"rules": {}}
    assert bob.post(f"{sb.hibob_url}/people", json=employee("x@example.com")).status_code == 200
    assert control(sb, "hibob", "faults", {"endpoint": "*", "hostile": "weird"}).status_code == 400
    assert (
        control(
            sb, "hibob", "faults", {"rules": {"*": {"error_rate": 1}, "x": {"no": 1}}}
        ).status_code
        == 400
    )
    assert control(sb, "hibob", "faults").json() == {"rules": {}}  # all-or-nothing


def test_control_plane_config(sb: Sandbox, bob: requests.Session) -> None:
    config = control(
        sb,
        "hibob",
        "config",
        {
            "lag_seconds": 0.5,
            "documents_shape": "client",
            "title_list": ["Engineer"],
            "rate_limits": {"POST /people": 10, "POST /people/search": 0},
        },
    ).json()
    assert config["lag_seconds"] == 0.5 and config["documents_shape"] == "client"
    assert config["rate_limits"] == {"POST /people": 10}
    assert config["title_list"] == ["Engineer"]
    assert sb.hibob.lag_seconds == 0.5
    assert control(sb, "hibob", "config", {"documents_shape": "xml"}).status_code == 400
    assert control(sb, "hibob", "config", {"colour": 1}).status_code == 400
    pinpoint = control(sb, "pinpoint", "config", {"forbidden": True, "updated_at_filter": False})
    assert pinpoint.json()["forbidden"] is True
    assert (
        requests.get(
            f"{sb.pinpoint_url}/jobs", headers={"X-API-KEY": sb.pinpoint_api_key}, timeout=5
        ).status_code
        == 403
    )


def test_control_plane_hires_state_and_clock(sb: Sandbox) -> None:
    before = set(sb.hired_application_ids())
    seeded = control(sb, "pinpoint", "hires", {"count": 2}).json()["ids"]
    added = control(
        sb,
        "pinpoint",
        "hires",
        {
            "hires": [
                {
                    "first": "Ada",
                    "last": "Lovelace",
                    "email": "ada@example.com",
                    "confidential": True,
                    "cv": False,
                    "updated_at": "2025-02-19T09:00:00+00:00",
                    "start_date": "2025-03-03",
                }
            ]
        },
    ).json()["ids"]
    state = control(sb, "pinpoint", "state").json()
    assert set(state["hired_application_ids"]) == before | set(seeded) | set(added)
    ada = sb.pinpoint.applications[added[0]]
    assert ada.email == "ada@example.com" and ada.attachments == [] and ada.offers
    assert control(sb, "pinpoint", "hires", {"hires": [{"first": "x"}]}).status_code == 400

    moved = control(sb, "pinpoint", "move", {"application_id": added[0], "stage": "Interview"})
    assert moved.status_code == 200
    assert added[0] not in sb.hired_application_ids()

    employees = control(
        sb,
        "hibob",
        "employees",
        {
            "employees": [
                {"first": "Grace", "last": "Hopper", "email": "grace@example.com", "site": "Berlin"}
            ]
        },
    ).json()
    hibob_state = control(sb, "hibob", "state").json()
    assert employees["ids"][0] in {e["id"] for e in hibob_state["employees"]}

    before_now = sb.clock.now()
    control(sb, "pinpoint", "clock", {"advance": 30})
    assert (sb.clock.now() - before_now).total_seconds() >= 30


def test_control_plane_audit_is_shared_and_not_audited(sb: Sandbox, pp: requests.Session) -> None:
    pp.get(f"{sb.pinpoint_url}/jobs")
    for api in ("pinpoint", "hibob"):
        audit = control(sb, api, "audit").json()
        assert audit["requests"] == {"total": 1, "pinpoint": 1}
        assert audit["requests_by_endpoint"] == {"pinpoint GET /jobs": 1}
        assert audit["log"][0]["route"] == "/jobs"
        assert {
            "employees_created_per_email",
            "documents_per_employee",
            "comments_per_application",
            "write_requests",
            "rate_limited",
        } <= set(audit)
    control(sb, "pinpoint", "reset-audit", {})
    assert sb.audit().requests() == 0


def test_hired_application_ids_cover_renamed_and_confidential(sb: Sandbox) -> None:
    jobs, stages, apps = sb.pinpoint.jobs, sb.pinpoint.stages, sb.pinpoint.applications
    hired = sb.hired_application_ids()
    assert {stages[apps[i].stage_id].name for i in hired} == {"Hired", "Offer Accepted"}
    assert any(jobs[apps[i].job_id].visibility == "confidential" for i in hired)
    assert set(apps) - set(hired)  # applicants in other stages too


def test_add_hire_and_add_job(sb: Sandbox, pp: requests.Session) -> None:
    job = sb.pinpoint.add_job(
        "Chef",
        department="Kitchen",
        location="Lisbon, Portugal",
        visibility="confidential",
        hired_stage_name="Signed",
    )
    app_id = sb.pinpoint.add_hire("Ada", "Lovelace", "ada@example.com", job=job, cv="docx")
    assert app_id in sb.hired_application_ids()
    listed = pp.get(
        f"{sb.pinpoint_url}/applications",
        params={"filter[job_visibility]": "confidential", "page[size]": "100"},
    ).json()
    assert app_id in {row["id"] for row in listed["data"]}
    assert sb.pinpoint.applications[app_id].attachments[0].context == "cv"


def world(seed: int) -> tuple[Any, ...]:
    with Sandbox(seed=seed, hires=8, now=NOW) as sb, requests.Session() as pp:
        pp.headers["X-API-KEY"] = sb.pinpoint_api_key
        listing = pp.get(
            f"{sb.pinpoint_url}/applications",
            params={
                "filter[job_visibility]": ALL_VISIBILITY,
                "include": "stage,job",
                "page[size]": "100",
            },
        ).json()
        files = [a.content for app in sb.pinpoint.applications.values() for a in app.attachments]
        people = sorted((e.id, e.email, e.lifecycle) for e in sb.hibob.employees.values())
        return listing, files, people, sb.pinpoint_api_key, sb.hibob_token


def test_a_seed_gives_the_same_world() -> None:
    first = world(5)
    assert first == world(5)
    assert first[0] != world(6)[0]


def test_concurrent_creates_of_one_email_make_one_employee(sb: Sandbox) -> None:
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def attempt(i: int) -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Basic {sb.hibob_token}"
            barrier.wait()
            email = "race@example.com" if i % 2 else "RACE@example.com"
            statuses.append(
                session.post(f"{sb.hibob_url}/people", json=employee(email)).status_code
            )

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(statuses) == [200] + [400] * 7
    assert sb.audit().employees_created_per_email() == {"race@example.com": 1}


def test_concurrent_comments_are_all_counted(sb: Sandbox) -> None:
    app_id = sb.hired_application_ids()[0]
    body = {
        "data": {
            "type": "comments",
            "attributes": {"body_text": "x"},
            "relationships": {"commentable": {"data": {"type": "applications", "id": app_id}}},
        }
    }

    def post() -> None:
        with requests.Session() as session:
            session.headers["X-API-KEY"] = sb.pinpoint_api_key
            for _ in range(5):
                assert session.post(f"{sb.pinpoint_url}/comments", json=body).status_code == 201

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sb.audit().comments_per_application() == {app_id: 30}
    assert len({c.id for c in sb.pinpoint.comments.values()}) == 30


def test_stop_closes_the_ports() -> None:
    sb = Sandbox(seed=1, hires=1).start()
    url = sb.pinpoint_url
    with requests.Session() as session:
        session.headers["X-API-KEY"] = sb.pinpoint_api_key
        assert session.get(f"{url}/jobs").status_code == 200  # a kept-alive connection
        sb.stop()
        try:
            session.get(f"{url}/jobs", timeout=2)
        except requests.ConnectionError:
            pass
        else:
            raise AssertionError("the stopped simulator still answered")
