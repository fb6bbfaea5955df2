"""HiBob's company lists, field types and the list checks on create (shared/api/hibob.md)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from poller.sandbox import Sandbox
from poller.sandbox.hibob_lists import DEFAULT_TITLES

from .helpers import control, employee

INVALID = "validations.field.invalid"


def create(sb: Sandbox, bob: requests.Session, body: Any) -> requests.Response:
    return bob.post(f"{sb.hibob_url}/people", json=body)


def named_list(sb: Sandbox, bob: requests.Session, name: str) -> dict[str, Any]:
    response = bob.get(f"{sb.hibob_url}/company/named-lists/{name}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refusal(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert body["key"] == INVALID
    return body


def test_named_lists_repeat_items_under_both_keys(sb: Sandbox, bob: requests.Session) -> None:
    site = named_list(sb, bob, "site")
    assert site["name"] == "site"
    assert site["values"] == site["items"]
    active = [i["name"] for i in site["items"] if not i["archived"]]
    assert active == ["London", "New York", "Berlin"]
    assert any(i["archived"] for i in site["items"])
    for item in site["items"]:
        assert set(item) == {"id", "value", "name", "archived", "children"}
        assert isinstance(item["id"], int) and not isinstance(item["id"], bool)
        assert item["value"] == item["name"]
    department = named_list(sb, bob, "department")
    names = [i["name"] for i in department["items"] if not i["archived"]]
    assert names == ["Engineering", "Sales", "Marketing", "People"]
    assert department["items"][0]["children"][0]["name"] == "Platform"


@pytest.mark.parametrize("keys", ["items", "values"])
def test_named_list_keys_switch(sb: Sandbox, bob: requests.Session, keys: str) -> None:
    sb.hibob.configure({"named_list_keys": keys})
    body = named_list(sb, bob, "site")
    assert set(body) == {"name", keys}
    assert [i["name"] for i in body[keys]][:3] == ["London", "New York", "Berlin"]


def test_list_names_are_case_sensitive(sb: Sandbox, bob: requests.Session) -> None:
    for name in ("Site", "TITLE", "nope"):
        response = bob.get(f"{sb.hibob_url}/company/named-lists/{name}")
        assert response.status_code == 404
        assert response.json()["key"] == "named-list.not.found"


def test_the_default_title_list(sb: Sandbox, bob: requests.Session) -> None:
    titles = named_list(sb, bob, "title")["items"]
    active = [t["name"] for t in titles if not t["archived"]]
    assert active == list(DEFAULT_TITLES)
    assert {"Backend Engineer", "Product Manager", "Data Engineer", "Account Executive"} <= set(
        active
    )
    assert "Engineering Manager" in active
    assert not {"Head of Security", "Sales Director"} & set(active)  # unmapped in the world
    assert any(t["archived"] for t in titles)
    assert sb.hibob.config()["title_list"] == list(DEFAULT_TITLES)


def test_title_is_checked_against_its_list(sb: Sandbox, bob: requests.Session) -> None:
    ok = create(sb, bob, employee("a@example.com", title="Backend Engineer"))
    assert ok.status_code == 200
    body = refusal(create(sb, bob, employee("b@example.com", title="Senior Wizard")))
    assert body["error"] == "'Senior Wizard' is not a valid work.title definition"
    assert body["args"] == ["Senior Wizard", "work.title"]
    for title in ("backend engineer", "Head of Security", "Software Developer"):  # exact, active
        refusal(create(sb, bob, employee("c@example.com", title=title)))
    assert sb.hibob.find_employee("b@example.com") is None


def test_list_values_may_be_item_ids(sb: Sandbox, bob: requests.Session) -> None:
    title = next(i for i in sb.hibob.named_list("title") or [] if i.name == "Data Engineer")
    for n, value in enumerate((title.id, str(title.id))):
        body = employee(f"id{n}@example.com")
        body["work"]["title"] = value  # type: ignore[index]
        assert create(sb, bob, body).status_code == 200
    body = employee("id9@example.com")
    body["work"]["title"] = 1  # type: ignore[index]
    refusal(create(sb, bob, body))


def test_set_title_list_replaces_it_and_none_frees_it(sb: Sandbox, bob: requests.Session) -> None:
    sb.hibob.set_title_list(["Chef"])
    assert create(sb, bob, employee("a@example.com", title="Chef")).status_code == 200
    refusal(create(sb, bob, employee("b@example.com", title="Backend Engineer")))
    sb.hibob.set_title_list(None)
    assert create(sb, bob, employee("c@example.com", title="Anything")).status_code == 200
    assert bob.get(f"{sb.hibob_url}/company/named-lists/title").status_code == 404
    assert sb.hibob.config()["title_list"] is None
    config = control(sb, "hibob", "config", {"title_list": ["Engineer"]}).json()
    assert config["title_list"] == ["Engineer"]
    assert control(sb, "hibob", "config", {"title_list": "Engineer"}).status_code == 400


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("site", "Lisbon"),
        ("site", "Paris"),  # archived
        ("department", "Finance"),
        ("department", "Legacy Operations"),  # archived
        ("department", "engineering"),  # list values match exactly
    ],
)
def test_list_values_are_checked(
    sb: Sandbox, bob: requests.Session, field: str, value: str
) -> None:
    body = refusal(create(sb, bob, employee("a@example.com", **{field: value})))
    assert body["error"] == f"'{value}' is not a valid work.{field} definition"


def test_nested_department_items_are_valid(sb: Sandbox, bob: requests.Session) -> None:
    assert create(sb, bob, employee("a@example.com", department="Platform")).status_code == 200


def test_site_is_text_matched_without_regard_to_case(sb: Sandbox, bob: requests.Session) -> None:
    answer = create(sb, bob, employee("ny@example.com", site="new york"))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["work"]["site"], answer.json()["work"]["siteId"]) == ("New York", 208752)
    stored = sb.hibob.employees[answer.json()["id"]].fields["work"]
    assert (stored["site"], stored["siteId"]) == ("New York", 208752)
    assert create(sb, bob, employee("b@example.com", site="BERLIN")).status_code == 200


def test_site_id_must_be_a_site(sb: Sandbox, bob: requests.Session) -> None:
    body = employee("a@example.com", site="London")
    body["work"]["siteId"] = 999  # type: ignore[index]
    refusal(create(sb, bob, body))
    body["work"]["siteId"] = 208751  # type: ignore[index]
    assert create(sb, bob, body).status_code == 200


def test_people_fields(sb: Sandbox, bob: requests.Session) -> None:
    def fields() -> dict[str, dict[str, Any]]:
        answer = bob.get(f"{sb.hibob_url}/company/people/fields").json()
        return {f["jsonPath"]: f for f in answer}

    found = fields()
    assert found["work.title"]["type"] == "list"
    assert found["work.title"]["typeData"] == {"listId": "title"}
    assert found["work.department"]["typeData"] == {"listId": "department"}
    assert found["work.siteId"]["typeData"] == {"listId": "site"}
    assert found["work.site"]["type"] == "text" and "typeData" not in found["work.site"]
    assert {"root.email", "work.startDate", "internal.lifecycleStatus"} <= set(found)
    assert all({"id", "jsonPath", "type"} <= set(f) for f in found.values())
    sb.hibob.set_title_list(None)
    assert fields()["work.title"]["type"] == "text"
