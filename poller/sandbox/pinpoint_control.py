"""Pinpoint's own /_sandbox/ control routes (the shared ones are in control.py).

- POST /_sandbox/hires              {"count": N, "confidential": false}, or
                                    {"hires": [{add_hire arguments}]}: dates as ISO strings,
                                    "offers": [{"start_on": "2025-03-03", "status": "declined"}]
- POST /_sandbox/move               {"application_id", "stage": "hired" | name | id,
                                    "updated_at"?: ISO} moves now; with "at": ISO or
                                    "after_seconds": N it is scheduled on the simulator clock
- POST /_sandbox/delete-application {"application_id"}
- POST /_sandbox/offers             {"application_id", "start_on"?, "status"?} adds an offer
                                    (answers {"id"}); {"offer_id", "status"?, "start_on"?}
                                    changes one.
- POST /_sandbox/start-on           {"application_id", "start_on": ISO date | null}
- POST /_sandbox/candidate          {"application_id", "first_name"?, "last_name"?, "email"?}
                                    edits the application's copy of the candidate
- POST /_sandbox/job                {"job_id", "title"?, "location"?, "department"?} edits a
                                    job (location and department by name; a new name is
                                    created); answers {"ok", "application_ids"}: all of the
                                    job's applications, which all see the edit
- GET  /_sandbox/state              hires, jobs (with location and department names),
                                    comments and scheduled moves

The edits after the hire (offers, start-on, candidate, job) move the application's updated_at
as the edits_touch_updated_at setting says (see pinpoint.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .control import bad_request, json_object
from .routing import Request, Response, Route, json_response

if TYPE_CHECKING:
    from .pinpoint_state import PinpointState

_BAD = (TypeError, ValueError, KeyError)
CANDIDATE_FIELDS = ("first_name", "last_name", "email")
JOB_FIELDS = ("title", "location", "department")


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _hire_args(spec: Any) -> dict[str, Any]:
    """add_hire keyword arguments from JSON, with ISO strings turned into times."""
    if not isinstance(spec, dict):
        raise TypeError("each hire must be an object")
    args = dict(spec)
    args.setdefault("email", None)
    if isinstance(args.get("updated_at"), str):
        args["updated_at"] = datetime.fromisoformat(args["updated_at"])
    return args


def _edits(body: dict[str, Any], key: str, names: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """The edited record's id and the fields to change; unknown keys are refused."""
    unknown = set(body) - {key, *names}
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    return str(body[key]), {name: body[name] for name in names if name in body}


def pinpoint_control_routes(sim: PinpointState) -> list[Route]:
    def hires(request: Request) -> Response:
        body = json_object(request)
        try:
            if "hires" in body:
                ids = [sim.add_hire(**_hire_args(spec)) for spec in body["hires"]]
            else:
                ids = sim.seed_hires(int(body.get("count", 1)), bool(body.get("confidential")))
        except _BAD as exc:
            raise bad_request(f"bad hire: {exc}") from None
        return json_response(200, {"ids": ids})

    def move(request: Request) -> Response:
        body = json_object(request)
        try:
            app_id, stage = str(body["application_id"]), str(body.get("stage", "hired"))
            if "at" in body or "after_seconds" in body:
                after = body.get("after_seconds")
                when = sim.schedule_move(
                    app_id,
                    stage,
                    at=_time(body.get("at")),
                    after_seconds=float(after) if after is not None else None,
                )
                return json_response(200, {"ok": True, "scheduled_at": when.isoformat()})
            sim.move_application(app_id, stage, _time(body.get("updated_at")))
        except _BAD as exc:
            raise bad_request(f"bad move: {exc}") from None
        return json_response(200, {"ok": True})

    def delete(request: Request) -> Response:
        try:
            sim.delete_application(str(json_object(request)["application_id"]))
        except _BAD as exc:
            raise bad_request(f"bad delete: {exc}") from None
        return json_response(200, {"ok": True})

    def offers(request: Request) -> Response:
        body = json_object(request)
        try:
            if "offer_id" in body:
                sim.update_offer(
                    str(body["offer_id"]), status=body.get("status"), start_on=body.get("start_on")
                )
                return json_response(200, {"ok": True})
            offer_id = sim.add_offer(
                str(body["application_id"]), body.get("start_on"), body.get("status", "pending")
            )
        except _BAD as exc:
            raise bad_request(f"bad offer: {exc}") from None
        return json_response(200, {"id": offer_id})

    def start_on(request: Request) -> Response:
        body = json_object(request)
        try:
            sim.set_start_on(str(body["application_id"]), body["start_on"])
        except _BAD as exc:
            raise bad_request(f"bad start_on: {exc}") from None
        return json_response(200, {"ok": True})

    def state(_: Request) -> Response:
        jobs, comments = sim.jobs, sim.comments
        locations, departments = sim.locations, sim.departments
        return json_response(
            200,
            {
                "hired_application_ids": sim.hired_application_ids(),
                "applications": len(sim.applications),
                "jobs": [
                    {
                        "id": j.id,
                        "title": j.title,
                        "location": locations[j.location_id].name,
                        "department": departments[j.department_id].name,
                        "visibility": j.visibility,
                        "hired_stage_id": sim.hired_stage_id(j.id),
                    }
                    for j in jobs.values()
                ],
                "comments": [
                    {"id": c.id, "application_id": c.application_id, "body_text": c.body_text}
                    for c in comments.values()
                ],
                "scheduled_moves": [
                    {
                        "application_id": m.application_id,
                        "stage_id": m.stage_id,
                        "at": m.at.isoformat(),
                    }
                    for m in sim.scheduled_moves
                ],
            },
        )

    table = [
        ("POST", "/_sandbox/hires", hires),
        ("POST", "/_sandbox/move", move),
        ("POST", "/_sandbox/delete-application", delete),
        ("POST", "/_sandbox/offers", offers),
        ("POST", "/_sandbox/start-on", start_on),
        ("GET", "/_sandbox/state", state),
    ]
    routes = [Route.build(method, path, handler, control=True) for method, path, handler in table]
    return routes + _edit_routes(sim)


def _edit_routes(sim: PinpointState) -> list[Route]:
    """Edits after the hire besides offers and start-on: the candidate's copy, and a job."""

    def candidate(request: Request) -> Response:
        try:
            app_id, fields = _edits(json_object(request), "application_id", CANDIDATE_FIELDS)
            sim.edit_candidate(app_id, **fields)
        except _BAD as exc:
            raise bad_request(f"bad candidate edit: {exc}") from None
        return json_response(200, {"ok": True})

    def job(request: Request) -> Response:
        try:
            job_id, fields = _edits(json_object(request), "job_id", JOB_FIELDS)
            app_ids = sim.edit_job(job_id, **fields)
        except _BAD as exc:
            raise bad_request(f"bad job edit: {exc}") from None
        return json_response(200, {"ok": True, "application_ids": app_ids})

    return [
        Route.build("POST", "/_sandbox/candidate", candidate, control=True),
        Route.build("POST", "/_sandbox/job", job, control=True),
    ]
