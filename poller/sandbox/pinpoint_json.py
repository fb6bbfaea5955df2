"""Pinpoint's JSON:API rendering: resources, relationships, the `included` array, error bodies.

A relationship carries `data` only when it is included; otherwise it is
`{"meta": {"included": false}}` (pinpoint.md, recorded). Ids are strings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .records import Application, Comment, Department, Job, Location, Offer, Stage
from .routing import Response, json_response

JSONAPI = "application/vnd.api+json"
Resource = dict[str, Any]

# JSON:API error `code` and `title` per status, as Pinpoint (Graphiti) answers them.
_ERRORS = {
    400: ("bad_request", "Bad Request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not Found"),
    405: ("method_not_allowed", "Method Not Allowed"),
    413: ("payload_too_large", "Payload Too Large"),
    422: ("unprocessable_entity", "Unprocessable Entity"),
    429: ("too_many_requests", "Too Many Requests"),
    500: ("internal_server_error", "Internal Server Error"),
}
NOT_FOUND_DETAIL = "Specified Record Not Found"


def ts(moment: datetime) -> str:
    """ISO-8601 with an explicit offset: 2025-02-19T09:25:04+00:00."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def error_object(status: int, detail: str, parameter: str | None = None) -> Resource:
    code, title = _ERRORS.get(status, ("error", "Error"))
    error: Resource = {"code": code, "status": str(status), "title": title, "detail": detail}
    if parameter is not None:
        error["source"] = {"parameter": parameter}
    return error


def jsonapi_error(status: int, detail: str, parameter: str | None = None) -> Response:
    """One JSON:API error; `parameter` names a refused query parameter in `source`."""
    return json_response(status, {"errors": [error_object(status, detail, parameter)]}, JSONAPI)


def jsonapi_errors(status: int, errors: list[Resource]) -> Response:
    return json_response(status, {"errors": errors}, JSONAPI)


def not_included() -> Resource:
    return {"meta": {"included": False}}


def to_one(kind: str, ident: str, included: bool) -> Resource:
    return {"data": {"type": kind, "id": ident}} if included else not_included()


def to_many(kind: str, ids: list[str], included: bool) -> Resource:
    return {"data": [{"type": kind, "id": i} for i in ids]} if included else not_included()


def job_json(job: Job, includes: set[str]) -> Resource:
    """`includes` are relative to the job: stages, location, department."""
    return {
        "id": job.id,
        "type": "jobs",
        "attributes": {  # no department or location attribute: both are relationships
            "title": job.title,
            "visibility": job.visibility,
            "status": "open",
            "created_at": ts(job.created_at),
            "updated_at": ts(job.updated_at),
        },
        "relationships": {
            "stages": to_many("stages", job.stage_ids, "stages" in includes),
            "location": to_one("locations", job.location_id, "location" in includes),
            "department": to_one("departments", job.department_id, "department" in includes),
        },
    }


def stage_json(stage: Stage) -> Resource:
    return {
        "id": stage.id,
        "type": "stages",
        "attributes": {"name": stage.name, "basic_type": stage.basic_type},
        "relationships": {"job": not_included()},
    }


def location_json(location: Location) -> Resource:
    return {"id": location.id, "type": "locations", "attributes": {"name": location.name}}


def department_json(department: Department) -> Resource:
    return {"id": department.id, "type": "departments", "attributes": {"name": department.name}}


def offer_json(offer: Offer) -> Resource:
    start_on = offer.start_on.isoformat() if offer.start_on else None
    return {
        "id": offer.id,
        "type": "offers",
        "attributes": {"start_on": start_on, "status": offer.status},
    }


def comment_json(comment: Comment) -> Resource:
    return {
        "id": comment.id,
        "type": "comments",
        "attributes": {
            "body_text": comment.body_text,
            "commentable_id": comment.application_id,
            "commentable_type": "Application",
            "created_at": ts(comment.created_at),
        },
        "relationships": {"commentable": not_included()},
    }


def application_json(
    app: Application,
    includes: set[str],
    comment_ids: list[str],
    attachments: list[Resource] | None,
) -> Resource:
    """`includes` are the request's paths; "job.location" includes the job too."""
    attributes: Resource = {
        "first_name": app.first_name,
        "last_name": app.last_name,
        "email": app.email,
        "phone": app.phone,
        "created_at": ts(app.created_at),
        "updated_at": ts(app.updated_at),
        "hired_at": ts(app.hired_at) if app.hired_at else None,
        "start_on": app.start_on.isoformat() if app.start_on else None,
        "stage_id": app.stage_id,
        "job_id": app.job_id,
    }
    if attachments is not None:
        attributes["attachments"] = attachments
    job_included = any(path == "job" or path.startswith("job.") for path in includes)
    return {
        "id": app.id,
        "type": "applications",
        "attributes": attributes,
        "relationships": {
            "job": to_one("jobs", app.job_id, job_included),
            "stage": to_one("stages", app.stage_id, "stage" in includes),
            "offers": to_many("offers", [o.id for o in app.offers], "offers" in includes),
            "comments": to_many("comments", comment_ids, "comments" in includes),
        },
    }


class Included:
    """The top-level `included` array: each resource once, in first-seen order."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], Resource] = {}

    def add(self, resource: Resource) -> None:
        self._seen.setdefault((resource["type"], resource["id"]), resource)

    def resources(self) -> list[Resource]:
        return list(self._seen.values())
