"""Request bodies and constants shared by the sandbox contract tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from poller.sandbox import Sandbox

NOW = datetime(2025, 2, 19, 9, 30, tzinfo=UTC)
ALL_VISIBILITY = "external,internal,private_job,confidential"


def control(sb: Sandbox, api: str, path: str, body: Any = None) -> requests.Response:
    """GET (no body) or POST a /_sandbox/ control route of one simulator."""
    origin = sb.pinpoint_origin if api == "pinpoint" else sb.hibob_origin
    if body is None:
        return requests.get(f"{origin}/_sandbox/{path}", timeout=5)
    return requests.post(f"{origin}/_sandbox/{path}", json=body, timeout=5)


def list_apps(sb: Sandbox, pp: requests.Session, **params: Any) -> dict[str, Any]:
    """GET /applications (100 a page unless given); asserts a 200."""
    response = pp.get(f"{sb.pinpoint_url}/applications", params={"page[size]": 100, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [row["id"] for row in body["data"]]


def assert_jsonapi_error(
    response: requests.Response, status: int, parameter: str | None = None
) -> dict[str, Any]:
    """A JSON:API error body with code, status (a string), title and detail; the first error.

    `parameter`: the refused query parameter, named in source.parameter and in the detail.
    """
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/vnd.api+json"
    errors = response.json()["errors"]
    for error in errors:
        assert error["status"] == str(status)
        assert error["code"] and error["title"] and error["detail"]
    if parameter is not None:
        named = [e for e in errors if e.get("source", {}).get("parameter") == parameter]
        assert named, errors
        assert parameter in named[0]["detail"]
    first: dict[str, Any] = errors[0]
    return first


def comment(
    app_id: Any, text: str | None = "Employee created in HiBob with ID 1"
) -> dict[str, Any]:
    """A POST /comments body on an application."""
    attributes = {} if text is None else {"body_text": text}
    return {
        "data": {
            "type": "comments",
            "attributes": attributes,
            "relationships": {"commentable": {"data": {"type": "applications", "id": app_id}}},
        }
    }


def employee(email: str, **work: str) -> dict[str, object]:
    """A valid POST /people body."""
    return {
        "firstName": "Brian",
        "surname": "Farrell",
        "email": email,
        "work": {"site": "London", "startDate": "2025-03-03", **work},
    }


def search_body(email: str, show_inactive: bool = True) -> dict[str, object]:
    return {
        "fields": ["root.id", "root.email", "internal.lifecycleStatus"],
        "filters": [{"fieldPath": "root.email", "operator": "equals", "values": [email]}],
        "showInactive": show_inactive,
    }


def start_of_window(sb: Sandbox) -> None:
    """Jump the clock to just after a rate-limit window opens, so a test never straddles two."""
    sb.clock.advance(60 - sb.clock.epoch() % 60 + 0.01)
