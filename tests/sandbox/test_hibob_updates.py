"""HiBob's writes after the create, over real HTTP: start date, name fields, email
(shared/api/hibob.md "After the create: changing an employee"), with lag, faults and audit."""

from __future__ import annotations

import base64
import time
from datetime import timedelta
from typing import Any

import pytest
import requests

from poller.sandbox import Sandbox

from .helpers import NOW, control, employee, start_of_window

START_DATE = "POST /employees/{id}/start-date"
PEOPLE = "PUT /people/{id}"
EMAIL = "PUT /people/{id}/email"
FIELDS = ["root.id", "root.email", "root.firstName", "root.surname", "work.startDate"]


def hire(sb: Sandbox, bob: requests.Session, email: str = "ada@example.com") -> str:
    """A new hire starting 2025-03-03 (after NOW), as POST /people makes one."""
    response = bob.post(f"{sb.hibob_url}/people", json=employee(email))
    assert response.status_code == 200, response.text
    new_id: str = response.json()["id"]
    return new_id


def staff(sb: Sandbox) -> str:
    """An employee who started long ago (existing staff)."""
    return next(e.id for e in sb.hibob.employees.values() if e.lifecycle == "employed")


def move_start(sb: Sandbox, bob: requests.Session, emp_id: str, body: Any) -> requests.Response:
    return bob.post(f"{sb.hibob_url}/employees/{emp_id}/start-date", json=body)


def put_person(sb: Sandbox, bob: requests.Session, emp_id: str, body: Any) -> requests.Response:
    return bob.put(f"{sb.hibob_url}/people/{emp_id}", json=body)


def put_email(sb: Sandbox, bob: requests.Session, emp_id: str, email: str) -> requests.Response:
    return bob.put(f"{sb.hibob_url}/people/{emp_id}/email", json={"email": email})


def read_back(sb: Sandbox, bob: requests.Session, path: str, value: str) -> list[dict[str, Any]]:
    """POST /people/search with one equals filter, asking for FIELDS."""
    body = {
        "fields": FIELDS,
        "filters": [{"fieldPath": path, "operator": "equals", "values": [value]}],
        "showInactive": True,
    }
    response = bob.post(f"{sb.hibob_url}/people/search", json=body)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["employees"]
    return found


def seen(sb: Sandbox, bob: requests.Session, emp_id: str) -> dict[str, Any]:
    """What search shows of one employee, by id: {path: value} plus the top-level email."""
    (row,) = read_back(sb, bob, "root.id", emp_id)
    return {"email": row["email"]} | {k: v["value"] for k, v in row.items() if k.startswith("/")}


def assert_error(response: requests.Response, status: int, key: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["key"] == key
    return str(body["error"])


# -- POST /employees/{id}/start-date --


def test_start_date_change(sb: Sandbox, bob: requests.Session) -> None:
    emp_id = hire(sb, bob)
    moved = move_start(sb, bob, emp_id, {"startDate": "2025-03-10", "reason": "Moved in Pinpoint"})
    assert moved.status_code == 200 and moved.content == b""
    assert sb.hibob.employees[emp_id].start_date == "2025-03-10"
    assert seen(sb, bob, emp_id)["/work/startDate"] == "2025-03-10"
    audit = sb.audit()
    assert audit.start_date_writes_per_employee() == {emp_id: 1}
    (change,) = audit.employee_changes("start_date")
    assert (change.employee_id, change.old, change.new, change.reason) == (
        emp_id,
        {"startDate": "2025-03-03"},
        {"startDate": "2025-03-10"},
        "Moved in Pinpoint",
    )
    # The reason is optional.
    assert move_start(sb, bob, emp_id, {"startDate": "2025-03-17"}).status_code == 200
    assert sb.audit().start_date_writes_per_employee() == {emp_id: 2}
    assert sb.audit().employee_changes("start_date", emp_id)[1].reason is None


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({}, "validations.required"),
        ({"reason": "x"}, "validations.required"),
        ({"startDate": ""}, "validations.required"),
        ({"startDate": 20250310}, "validations.required"),
        ({"startDate": "10/03/2025"}, "validations.date.invalid"),
        ({"startDate": "2025-02-30"}, "validations.date.invalid"),
        ({"startDate": "2025-03-10", "reason": 5}, "validations.field.invalid"),
        (["2025-03-10"], "validations.invalid.body"),
    ],
)
def test_start_date_bad_bodies_are_400(
    sb: Sandbox, bob: requests.Session, body: Any, key: str
) -> None:
    emp_id = hire(sb, bob)
    assert_error(move_start(sb, bob, emp_id, body), 400, key)
    assert sb.hibob.employees[emp_id].start_date == "2025-03-03"
    assert sb.audit().employee_changes() == []


def test_start_date_of_unknown_employee_or_non_json(sb: Sandbox, bob: requests.Session) -> None:
    missing = move_start(sb, bob, "1234567890123456789", {"startDate": "2025-03-10"})
    assert_error(missing, 404, "employee.not.found")
    emp_id = hire(sb, bob)
    garbled = bob.post(f"{sb.hibob_url}/employees/{emp_id}/start-date", data=b"{not json")
    assert_error(garbled, 400, "validations.invalid.body")


def test_start_date_refused_once_started(sb: Sandbox, bob: requests.Session) -> None:
    assert sb.hibob.config()["start_date_after_start"] == "refuse"
    old = staff(sb)
    before = sb.hibob.employees[old].start_date
    message = assert_error(
        move_start(sb, bob, old, {"startDate": "2025-03-10"}),
        400,
        "employee.start-date.already-started",
    )
    assert "already started" in message
    assert sb.hibob.employees[old].start_date == before
    # Starting today counts as started.
    today = sb.hibob.add_employee("Tod", "Day", "tod@example.com", start_date=NOW.date())
    refused = move_start(sb, bob, today, {"startDate": "2025-03-10"})
    assert_error(refused, 400, "employee.start-date.already-started")
    # A hire whose start date the clock passes is refused too.
    emp_id = hire(sb, bob)
    sb.clock.advance(timedelta(days=13).total_seconds())
    late = move_start(sb, bob, emp_id, {"startDate": "2025-03-20"})
    assert_error(late, 400, "employee.start-date.already-started")
    assert sb.audit().employee_changes() == []


def test_start_date_accept_mode(sb: Sandbox, bob: requests.Session) -> None:
    config = control(sb, "hibob", "config", {"start_date_after_start": "accept"})
    assert config.json()["start_date_after_start"] == "accept"
    old = staff(sb)
    assert move_start(sb, bob, old, {"startDate": "2025-03-10"}).status_code == 200
    assert sb.hibob.employees[old].start_date == "2025-03-10"
    assert sb.audit().start_date_writes_per_employee() == {old: 1}
    bad = control(sb, "hibob", "config", {"start_date_after_start": "maybe"})
    assert bad.status_code == 400
    sb.hibob.set_start_date_after_start("refuse")
    again = move_start(sb, bob, old, {"startDate": "2025-03-12"})
    assert again.status_code == 200  # its start date is in the future now
    started = next(
        e.id for e in sb.hibob.employees.values() if e.lifecycle == "employed" and e.id != old
    )
    refused = move_start(sb, bob, started, {"startDate": "2025-03-10"})
    assert refused.status_code == 400


def test_start_date_refusal_in_another_error_shape(sb: Sandbox, bob: requests.Session) -> None:
    sb.hibob.configure({"error_shape": "key_error"})
    refused = move_start(sb, bob, staff(sb), {"startDate": "2025-03-10"})
    assert refused.status_code == 400
    assert set(refused.json()) == {"key", "error"}


# -- PUT /people/{id} --


def test_put_people_changes_the_name_fields(sb: Sandbox, bob: requests.Session) -> None:
    emp_id = hire(sb, bob)
    updated = put_person(sb, bob, emp_id, {"firstName": "Ada", "surname": "King"})
    assert updated.status_code == 200 and updated.content == b""
    stored = sb.hibob.employees[emp_id]
    assert (stored.first_name, stored.surname) == ("Ada", "King")
    assert seen(sb, bob, emp_id) == {
        "email": "ada@example.com",
        "/root/id": emp_id,
        "/root/email": "ada@example.com",
        "/root/firstName": "Ada",
        "/root/surname": "King",
        "/work/startDate": "2025-03-03",
    }
    only_surname = put_person(sb, bob, emp_id, {"surname": "Lovelace"})
    assert only_surname.status_code == 200
    assert sb.hibob.employees[emp_id].first_name == "Ada"
    audit = sb.audit()
    assert audit.name_writes_per_employee() == {emp_id: 2}
    first, second = audit.employee_changes("name")
    assert first.old == {"firstName": "Brian", "surname": "Farrell"}
    assert first.new == {"firstName": "Ada", "surname": "King"}
    assert (second.old, second.new) == ({"surname": "King"}, {"surname": "Lovelace"})


@pytest.mark.parametrize(
    "body",
    [
        {"firstName": "Brian", "surname": "Farrell"},  # nothing changed
        {},
        {"root": {"firstName": "Ada"}},  # the wrapper search does not use
        {"work": {"startDate": "2025-03-10"}},  # historical: the Work table
        {"work.startDate": "2025-03-10"},
        {"work": {"title": "Chef", "department": "Sales", "site": "Berlin"}},
        {"/root/firstName": "Ada"},
        {"firstname": "Ada"},  # field ids are case-sensitive
        {"displayName": "Ada King"},
        {"firstName": {"value": "Ada"}},  # the search answer's shape, not a value
        {"firstName": ""},
        {"surname": None},
        ["firstName", "Ada"],
        "Ada",
    ],
)
def test_put_people_304_when_nothing_applies(sb: Sandbox, bob: requests.Session, body: Any) -> None:
    emp_id = hire(sb, bob)
    before = sb.hibob.employees[emp_id].fields
    answer = put_person(sb, bob, emp_id, body)
    assert answer.status_code == 304 and answer.content == b""
    assert sb.hibob.employees[emp_id].fields == before
    assert sb.audit().employee_changes() == []


def test_put_people_applies_the_plain_fields_and_ignores_the_rest(
    sb: Sandbox, bob: requests.Session
) -> None:
    emp_id = hire(sb, bob)
    body = {"firstName": "Ada", "work": {"startDate": "2025-04-01"}, "nickname": "A"}
    assert put_person(sb, bob, emp_id, body).status_code == 200
    stored = sb.hibob.employees[emp_id]
    assert (stored.first_name, stored.start_date) == ("Ada", "2025-03-03")
    assert "nickname" not in stored.fields
    assert sb.audit().employee_changes("name")[0].new == {"firstName": "Ada"}


def test_put_people_unknown_employee_and_non_json(sb: Sandbox, bob: requests.Session) -> None:
    missing = put_person(sb, bob, "1234567890123456789", {"firstName": "Ada"})
    assert_error(missing, 404, "employee.not.found")
    emp_id = hire(sb, bob)
    garbled = bob.put(f"{sb.hibob_url}/people/{emp_id}", data=b"firstName=Ada")
    assert_error(garbled, 400, "validations.invalid.body")
    # /people/search is not an employee id for PUT, and GET /people/{id} is retired.
    assert bob.put(f"{sb.hibob_url}/people/search", json={}).status_code == 404
    assert bob.get(f"{sb.hibob_url}/people/{emp_id}").status_code == 405


# -- PUT /people/{id}/email --


def test_email_change_sends_an_invitation(sb: Sandbox, bob: requests.Session) -> None:
    emp_id = hire(sb, bob)
    answer = put_email(sb, bob, emp_id, " Ada.King@Example.com ")
    assert answer.status_code == 200 and answer.content == b""
    assert sb.hibob.employees[emp_id].email == "Ada.King@Example.com"
    found = sb.hibob.find_employee("ada.king@example.com")
    assert found is not None and found.id == emp_id
    assert sb.hibob.find_employee("ada@example.com") is None
    assert [r["id"] for r in read_back(sb, bob, "root.email", "ada.king@example.com")] == [emp_id]
    assert read_back(sb, bob, "root.email", "ada@example.com") == []
    audit = sb.audit()
    assert audit.invitations_per_employee() == {emp_id: 1}
    (change,) = audit.employee_changes("email")
    assert (change.old, change.new) == (
        {"email": "ada@example.com"},
        {"email": "Ada.King@Example.com"},
    )
    # The old address is free again.
    assert hire(sb, bob, "ada@example.com") != emp_id


def test_email_change_refusals(sb: Sandbox, bob: requests.Session) -> None:
    emp_id = hire(sb, bob)
    other = hire(sb, bob, "grace@example.com")
    taken = put_email(sb, bob, emp_id, "GRACE@example.com")
    assert_error(taken, 400, "validations.email.alreadyexists")
    assert_error(put_email(sb, bob, emp_id, "not-an-email"), 400, "validations.email.invalid")
    assert_error(put_email(sb, bob, emp_id, ""), 400, "validations.required")
    no_email = bob.put(f"{sb.hibob_url}/people/{emp_id}/email", json={"mail": "a@b.co"})
    assert_error(no_email, 400, "validations.required")
    missing = put_email(sb, bob, "1234567890123456789", "x@example.com")
    assert_error(missing, 404, "employee.not.found")
    assert sb.hibob.employees[emp_id].email == "ada@example.com"
    assert sb.hibob.employees[other].email == "grace@example.com"
    assert sb.audit().invitations_per_employee() == {}


# -- reads lag behind the writes --


def test_search_shows_the_old_values_until_the_lag_passes(
    sb: Sandbox, bob: requests.Session
) -> None:
    emp_id = hire(sb, bob)
    sb.hibob.set_lag(20)
    sb.clock.advance(21)  # past the create's own lag
    old = seen(sb, bob, emp_id)
    assert old["/work/startDate"] == "2025-03-03"

    assert move_start(sb, bob, emp_id, {"startDate": "2025-03-10"}).status_code == 200
    sb.clock.advance(10)
    assert put_person(sb, bob, emp_id, {"firstName": "Ada", "surname": "King"}).status_code == 200
    assert put_email(sb, bob, emp_id, "ada.king@example.com").status_code == 200
    assert seen(sb, bob, emp_id) == old
    # Search filters on what it shows: the old email still finds the employee.
    assert [r["id"] for r in read_back(sb, bob, "root.email", "ada@example.com")] == [emp_id]
    assert read_back(sb, bob, "root.email", "ada.king@example.com") == []

    sb.clock.advance(11)  # 21 s after the start date, 11 s after the rest
    assert seen(sb, bob, emp_id) == old | {"/work/startDate": "2025-03-10"}
    sb.clock.advance(10)
    assert seen(sb, bob, emp_id) == {
        "email": "ada.king@example.com",
        "/root/id": emp_id,
        "/root/email": "ada.king@example.com",
        "/root/firstName": "Ada",
        "/root/surname": "King",
        "/work/startDate": "2025-03-10",
    }
    # The writes themselves are seen at once by the simulator's own view.
    assert sb.hibob.employees[emp_id].updated_at is not None


def test_no_lag_by_default(sb: Sandbox, bob: requests.Session) -> None:
    assert sb.hibob.config()["lag_seconds"] == 0
    emp_id = hire(sb, bob)
    assert put_person(sb, bob, emp_id, {"surname": "King"}).status_code == 200
    assert seen(sb, bob, emp_id)["/root/surname"] == "King"


# -- faults, rate limits, credentials --


def test_a_lost_response_applies_the_write(sb: Sandbox, bob: requests.Session) -> None:
    emp_id = hire(sb, bob)
    for endpoint in (START_DATE, PEOPLE, EMAIL):
        sb.faults("hibob", endpoint, lose_rate="always", times=1)
    lost = move_start(sb, bob, emp_id, {"startDate": "2025-03-10"})
    assert lost.status_code == 502 and lost.headers["Content-Type"].startswith("text/html")
    assert put_person(sb, bob, emp_id, {"firstName": "Ada"}).status_code == 502
    assert put_email(sb, bob, emp_id, "ada.king@example.com").status_code == 502
    stored = sb.hibob.employees[emp_id]
    assert (stored.start_date, stored.first_name, stored.email) == (
        "2025-03-10",
        "Ada",
        "ada.king@example.com",
    )
    audit = sb.audit()
    assert audit.start_date_writes_per_employee() == {emp_id: 1}
    assert audit.name_writes_per_employee() == {emp_id: 1}
    assert audit.invitations_per_employee() == {emp_id: 1}
    assert audit.requests(endpoint="POST /employees/{id}/start-date") == 1
    # Sent again, the name is already there: nothing changed.
    assert put_person(sb, bob, emp_id, {"firstName": "Ada"}).status_code == 304


def test_a_5xx_or_stall_fault_on_the_new_endpoints(sb: Sandbox, bob: requests.Session) -> None:
    emp_id = hire(sb, bob)
    sb.faults("hibob", START_DATE, error_rate="always", times=1)
    failed = move_start(sb, bob, emp_id, {"startDate": "2025-03-10"})
    assert failed.status_code == 503
    assert sb.hibob.employees[emp_id].start_date == "2025-03-03"
    sb.faults("hibob", PEOPLE, stall_rate="always", stall_seconds=0.6, times=1)
    with pytest.raises(requests.Timeout):
        bob.put(f"{sb.hibob_url}/people/{emp_id}", json={"firstName": "Ada"}, timeout=0.2)
    deadline = time.monotonic() + 5
    while sb.hibob.employees[emp_id].first_name != "Ada":  # the stalled write still lands
        assert time.monotonic() < deadline, "the stalled write never landed"
        time.sleep(0.02)
    assert sb.audit().name_writes_per_employee() == {emp_id: 1}
    assert sb.audit().start_date_writes_per_employee() == {}


def test_unlimited_by_default_and_limited_when_set(sb: Sandbox, bob: requests.Session) -> None:
    assert sb.hibob.config()["rate_limits"] == {"POST /people/search": 50}
    emp_id = hire(sb, bob)
    for i in range(5):
        answer = put_person(sb, bob, emp_id, {"surname": f"King{i}"})
        assert answer.status_code == 200 and "X-RateLimit-Limit" not in answer.headers
    config = control(sb, "hibob", "config", {"rate_limits": {PEOPLE: 2, START_DATE: 1}}).json()
    assert config["rate_limits"] == {"POST /people/search": 50, PEOPLE: 2, START_DATE: 1}
    start_of_window(sb)
    assert put_person(sb, bob, emp_id, {"surname": "A"}).headers["X-RateLimit-Remaining"] == "1"
    assert put_person(sb, bob, emp_id, {"surname": "B"}).status_code == 200
    limited = put_person(sb, bob, emp_id, {"surname": "C"})
    assert_error(limited, 429, "rate.limit")
    assert sb.hibob.employees[emp_id].surname == "B"
    assert move_start(sb, bob, emp_id, {"startDate": "2025-03-10"}).status_code == 200
    assert move_start(sb, bob, emp_id, {"startDate": "2025-03-11"}).status_code == 429
    assert put_email(sb, bob, emp_id, "x@example.com").status_code == 200  # not limited


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/employees/{id}/start-date", {"startDate": "2025-03-10"}),
        ("PUT", "/people/{id}", {"firstName": "Ada"}),
        ("PUT", "/people/{id}/email", {"email": "x@example.com"}),
    ],
)
def test_credentials_apply(
    sb: Sandbox, bob: requests.Session, method: str, path: str, body: Any
) -> None:
    emp_id = hire(sb, bob)
    url = f"{sb.hibob_url}{path.format(id=emp_id)}"
    wrong = "Basic " + base64.b64encode(b"someone:wrong").decode()
    for authorization in (None, wrong):
        headers = {"Authorization": authorization} if authorization else {}
        answer = requests.request(method, url, json=body, headers=headers, timeout=5)
        assert answer.status_code == 401 and answer.content == b""
    noperm = {"Authorization": f"Basic {sb.hibob_noperm_token}"}
    denied = requests.request(method, url, json=body, headers=noperm, timeout=5)
    assert_error(denied, 403, "permission.denied")
    sb.hibob.set_forbidden(True)
    assert_error(bob.request(method, url, json=body), 403, "permission.denied")
    assert sb.audit().employee_changes() == []
    sb.hibob.set_forbidden(False)
    assert bob.request(method, url, json=body).status_code == 200


# -- the control plane --


def test_state_and_audit_routes_show_the_changes(sb: Sandbox, bob: requests.Session) -> None:
    emp_id = hire(sb, bob)
    move_start(sb, bob, emp_id, {"startDate": "2025-03-10", "reason": "moved"})
    move_start(sb, bob, emp_id, {"startDate": "2025-03-11"})
    put_person(sb, bob, emp_id, {"firstName": "Ada", "surname": "King"})
    put_email(sb, bob, emp_id, "ada.king@example.com")
    state = control(sb, "hibob", "state").json()
    row = next(e for e in state["employees"] if e["id"] == emp_id)
    assert {k: row[k] for k in row if k not in {"created_at", "updated_at", "site"}} == {
        "id": emp_id,
        "email": "ada.king@example.com",
        "first_name": "Ada",
        "surname": "King",
        "start_date": "2025-03-11",
        "lifecycle": "hired",
        "department": None,
        "start_date_writes": 2,
        "name_writes": 1,
        "invitations": 1,
    }
    assert row["updated_at"] is not None
    untouched = next(e for e in state["employees"] if e["id"] != emp_id)
    assert (untouched["start_date_writes"], untouched["invitations"]) == (0, 0)
    assert untouched["updated_at"] is None

    audit = control(sb, "hibob", "audit").json()
    assert audit["start_date_writes_per_employee"] == {emp_id: 2}
    assert audit["name_writes_per_employee"] == {emp_id: 1}
    assert audit["invitations_per_employee"] == {emp_id: 1}
    assert [c["kind"] for c in audit["employee_changes"]] == [
        "start_date",
        "start_date",
        "name",
        "email",
    ]
    assert audit["employee_changes"][0] == {
        "kind": "start_date",
        "employee_id": emp_id,
        "old": {"startDate": "2025-03-03"},
        "new": {"startDate": "2025-03-10"},
        "reason": "moved",
        "time": audit["employee_changes"][0]["time"],
    }
    assert audit["requests_by_endpoint"]["hibob PUT /people/{id}"] == 1
    control(sb, "hibob", "reset-audit", {})
    assert sb.audit().employee_changes() == []
