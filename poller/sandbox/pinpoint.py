"""The Pinpoint simulator's HTTP side: exactly the endpoints of shared/api/pinpoint.md.

Settings (`configure()` and POST /_sandbox/config), default first:
- forbidden: False | True (every key gets 403, "Integration not enabled").
- rate_limits: {"GET /applications": 60, ...} per minute; Pinpoint sends no rate-limit headers.
- url_lifetime_seconds: 300; how long signed CV links stay valid.
- missing_scopes: [] | names from pinpoint_scopes.SCOPES the key lacks; a request that needs
  one gets 403 naming resource and access ("This API key has no read access to comments").
- updated_at_filter: True | False (every filter[updated_at][*] gets 400 naming it).
- gte_filter: "reject" (filter[updated_at|created_at][gte|lte] get 400 naming the parameter)
  | "ignore" (they have no effect). Undocumented operators: [unknown] upstream.
- stage_id_list: "reject" (a comma-separated filter[stage_id] gets 400) | "ignore" (the whole
  filter is ignored, so every stage matches). A single id always works.
- stage_basic_type_filter: True | False (filter[stage_basic_type] gets 400 naming it).
- jobs_default_visibility: "hide_confidential" | "all"; what GET /jobs lists without
  filter[visibility] ([unknown] upstream).
- edits_touch_updated_at: True | False; whether an edit after the hire moves the application's
  updated_at (so filter[updated_at][gt] finds it): its candidate's name or email, an offer
  added or changed, its own start_on, or its job's title, location or department (every
  application of the job). [unknown] upstream; False changes the data only.
"""

from __future__ import annotations

import hmac
import random
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from .audit import Audit
from .clock import SimClock
from .control import control_routes
from .faults import Faults
from .files import Signer, content_disposition, s3_error
from .pinpoint_control import pinpoint_control_routes
from .pinpoint_json import (
    JSONAPI,
    NOT_FOUND_DETAIL,
    Included,
    Resource,
    application_json,
    comment_json,
    department_json,
    job_json,
    jsonapi_error,
    location_json,
    offer_json,
    stage_json,
)
from .pinpoint_query import (
    DEFAULT_VISIBILITY,
    Switches,
    application_filter,
    csv,
    includes,
    page_of,
    paging,
    sort_key,
    stats,
    unknown_filters,
    visibility,
    wants_attachments,
)
from .pinpoint_scopes import APPLICATION_INCLUDES, JOB_INCLUDES, checked_scopes, scope_refusal
from .pinpoint_state import PinpointState
from .ratelimit import RateLimiter
from .records import VISIBILITIES, Application
from .routing import Reject, Request, Response, Route, json_response

CHOICES = {
    "gte_filter": ("reject", "ignore"),
    "stage_id_list": ("reject", "ignore"),
    "jobs_default_visibility": ("hide_confidential", "all"),
}
SETTINGS = {
    "forbidden",
    "rate_limits",
    "url_lifetime_seconds",
    "missing_scopes",
    "updated_at_filter",
    "stage_basic_type_filter",
    "edits_touch_updated_at",
    *CHOICES,
}


def _choice(name: str, value: Any) -> str:
    if value not in CHOICES[name]:
        raise ValueError(f"{name} must be one of {', '.join(CHOICES[name])}")
    return str(value)


class PinpointSim(PinpointState):
    api = "pinpoint"
    base_path = "/api/v1"
    rate_limit_headers = False  # Pinpoint documents none

    def __init__(self, seed: int = 1, clock: SimClock | None = None, audit: Audit | None = None):
        super().__init__(seed, clock or SimClock())
        secrets = random.Random(f"{seed}:pinpoint:secrets")
        self.api_key = f"pp_sandbox_{secrets.getrandbits(128):032x}"
        self._signer = Signer(secrets.getrandbits(256).to_bytes(32, "big"))
        self.audit = audit or Audit()
        self.faults = Faults(seed, self.api)
        self.limiter = RateLimiter()
        self.origin = "http://127.0.0.1"
        self.forbidden = False
        self.url_lifetime_seconds = 300
        self.missing_scopes: frozenset[str] = frozenset()
        self.switches = Switches()
        self.jobs_default_visibility = "hide_confidential"
        endpoints = frozenset(route.key for route in self.routes() if not route.control)
        self.faults.endpoints = self.limiter.endpoints = endpoints

    def __repr__(self) -> str:
        return f"PinpointSim(seed={self.seed}, origin={self.origin!r})"

    # -- settings --

    @property
    def updated_at_filter(self) -> bool:
        return self.switches.updated_at_filter

    def bind(self, origin: str) -> None:
        self.origin = origin

    def set_forbidden(self, forbidden: bool) -> None:
        self.forbidden = forbidden

    def set_rate_limit(self, endpoint: str, per_minute: int | None) -> None:
        self.limiter.set_limit(endpoint, per_minute)

    def set_updated_at_filter(self, supported: bool) -> None:
        self.switches.updated_at_filter = supported

    def set_missing_scopes(self, scopes: Iterable[str]) -> None:
        """The key lacks these scopes (names from SCOPES); an empty list restores them all."""
        self.missing_scopes = checked_scopes(scopes)

    def configure(self, settings: dict[str, Any]) -> None:
        unknown = set(settings) - SETTINGS
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        choices = {name: _choice(name, settings[name]) for name in CHOICES if name in settings}
        if "missing_scopes" in settings:
            self.set_missing_scopes(settings["missing_scopes"])
        for endpoint, per_minute in settings.get("rate_limits", {}).items():
            self.limiter.set_limit(endpoint, per_minute)
        if "forbidden" in settings:
            self.forbidden = bool(settings["forbidden"])
        if "url_lifetime_seconds" in settings:
            self.url_lifetime_seconds = int(settings["url_lifetime_seconds"])
        if "updated_at_filter" in settings:
            self.switches.updated_at_filter = bool(settings["updated_at_filter"])
        if "stage_basic_type_filter" in settings:
            self.switches.stage_basic_type_filter = bool(settings["stage_basic_type_filter"])
        if "gte_filter" in choices:
            self.switches.gte_filter = choices["gte_filter"]
        if "stage_id_list" in choices:
            self.switches.stage_id_list = choices["stage_id_list"]
        if "jobs_default_visibility" in choices:
            self.jobs_default_visibility = choices["jobs_default_visibility"]
        if "edits_touch_updated_at" in settings:
            self.set_edits_touch_updated_at(bool(settings["edits_touch_updated_at"]))

    def config(self) -> dict[str, Any]:
        return {
            "forbidden": self.forbidden,
            "rate_limits": self.limiter.limits(),
            "url_lifetime_seconds": self.url_lifetime_seconds,
            "missing_scopes": sorted(self.missing_scopes),
            "updated_at_filter": self.switches.updated_at_filter,
            "gte_filter": self.switches.gte_filter,
            "stage_id_list": self.switches.stage_id_list,
            "stage_basic_type_filter": self.switches.stage_basic_type_filter,
            "jobs_default_visibility": self.jobs_default_visibility,
            "edits_touch_updated_at": self.edits_touch_updated_at,
        }

    # -- server hooks --

    def authenticate(self, request: Request) -> Response | None:
        key = request.header("X-API-KEY") or ""
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return jsonapi_error(401, "Missing or invalid API key")
        if self.forbidden:
            return jsonapi_error(403, "Integration not enabled")
        return None

    def error(self, status: int, key: str, message: str) -> Response:
        return jsonapi_error(status, "Rate limit exceeded" if status == 429 else message)

    def routes(self) -> list[Route]:
        base = self.base_path
        return [
            Route.build("GET", "/jobs", self._list_jobs, prefix=base),
            Route.build("GET", "/applications", self._list_applications, prefix=base),
            Route.build("GET", "/applications/{id}", self._get_application, prefix=base),
            Route.build("GET", "/comments", self._list_comments, prefix=base),
            Route.build("POST", "/comments", self._post_comment, prefix=base),
            Route.build("GET", "/files/{token}/{filename}", self._get_file, auth=False),
            *control_routes(self),
            *pinpoint_control_routes(self),
        ]

    def _require(self, *scopes: str) -> None:
        refusal = scope_refusal(self.missing_scopes, scopes)
        if refusal is not None:
            raise Reject(refusal)

    # -- rendering (call with the lock held) --

    def _comment_ids(self, app_id: str) -> list[str]:
        return list(self._comments_of.get(app_id, ()))

    def _attachments(self, app: Application) -> list[Resource]:
        now = self.clock.now()
        return [
            {
                "context": a.context,
                "filename": a.filename,
                "url": f"{self.origin}/files/{a.token}/{quote(a.filename)}?"
                + self._signer.query(a.token, a.filename, now, self.url_lifetime_seconds),
            }
            for a in app.attachments
        ]

    def _render(self, app: Application, paths: set[str], attachments: bool) -> Resource:
        extra = self._attachments(app) if attachments else None
        return application_json(app, paths, self._comment_ids(app.id), extra)

    def _included(self, apps: list[Application], paths: set[str]) -> list[Resource]:
        """Every included resource once; a dotted path includes the resources on its way."""
        job_paths = {p.split(".", 1)[1] for p in paths if p.startswith("job.")}
        included = Included()
        for app in apps:
            if "stage" in paths:
                included.add(stage_json(self._stages[app.stage_id]))
            if "job" in paths or job_paths:
                job = self._jobs[app.job_id]
                included.add(job_json(job, job_paths))
                if "location" in job_paths:
                    included.add(location_json(self._locations[job.location_id]))
                if "department" in job_paths:
                    included.add(department_json(self._departments[job.department_id]))
            if "offers" in paths:
                for offer in app.offers:
                    included.add(offer_json(offer))
            if "comments" in paths:
                for comment_id in self._comment_ids(app.id):
                    included.add(comment_json(self._comments[comment_id]))
        return included.resources()

    # -- handlers --

    def _list_jobs(self, request: Request) -> Response:
        self._require("jobs:read")
        unknown_filters(request, frozenset({"filter[visibility]"}))
        number, size = paging(request)
        paths = includes(request, frozenset(JOB_INCLUDES))
        count = stats(request)
        self._require(*(scope for path in paths for scope in JOB_INCLUDES[path]))
        everything = frozenset(VISIBILITIES)
        default = everything if self.jobs_default_visibility == "all" else DEFAULT_VISIBILITY
        seen = visibility(request, "filter[visibility]", default)
        with self._locked():
            jobs = sorted(
                (j for j in self._jobs.values() if j.visibility in seen), key=lambda j: int(j.id)
            )
            page = page_of(jobs, number, size)
            body: Resource = {"data": [job_json(j, paths) for j in page]}
            if paths:
                included = Included()
                for job in page:
                    if "stages" in paths:
                        for stage_id in job.stage_ids:
                            included.add(stage_json(self._stages[stage_id]))
                    if "location" in paths:
                        included.add(location_json(self._locations[job.location_id]))
                    if "department" in paths:
                        included.add(department_json(self._departments[job.department_id]))
                body["included"] = included.resources()
            body["meta"] = {"stats": {"total": {"count": len(jobs)}}} if count else {}
        return json_response(200, body, JSONAPI)

    def _list_applications(self, request: Request) -> Response:
        self._require("applications:read")
        number, size = paging(request)
        paths = includes(request, frozenset(APPLICATION_INCLUDES))
        count = stats(request)
        order = sort_key(request)
        keep = application_filter(request, self.switches)
        attachments = wants_attachments(request)
        self._require(*(scope for path in paths for scope in APPLICATION_INCLUDES[path]))
        with self._locked():
            rows = [
                a
                for a in self._applications.values()
                if keep(a, self._jobs[a.job_id], self._stages[a.stage_id])
            ]
            if order and order.lstrip("-") == "updated_at":
                rows.sort(key=lambda a: (a.updated_at, int(a.id)), reverse=order.startswith("-"))
            else:
                rows.sort(key=lambda a: int(a.id), reverse=order == "-id")
            page = page_of(rows, number, size)
            body: Resource = {"data": [self._render(a, paths, attachments) for a in page]}
            if paths:
                body["included"] = self._included(page, paths)
            body["meta"] = {"stats": {"total": {"count": len(rows)}}} if count else {}
        return json_response(200, body, JSONAPI)

    def _get_application(self, request: Request) -> Response:
        self._require("applications:read")
        unknown_filters(request, frozenset({"filter[job_visibility]"}))
        paths = includes(request, frozenset(APPLICATION_INCLUDES))
        self._require(*(scope for path in paths for scope in APPLICATION_INCLUDES[path]))
        # Confidential jobs' applications need the filter here too ("Fetch Application").
        seen = visibility(request, "filter[job_visibility]", DEFAULT_VISIBILITY)
        attachments = wants_attachments(request)
        with self._locked():
            app = self._applications.get(request.params["id"])
            if app is None or self._jobs[app.job_id].visibility not in seen:
                return jsonapi_error(404, NOT_FOUND_DETAIL)
            body: Resource = {"data": self._render(app, paths, attachments)}
            if paths:
                body["included"] = self._included([app], paths)
        return json_response(200, body, JSONAPI)

    def _list_comments(self, request: Request) -> Response:
        self._require("comments:read")
        known = frozenset({"filter[commentable_type]", "filter[commentable_id]"})
        unknown_filters(request, known)
        number, size = paging(request)
        includes(request, frozenset())
        count = stats(request)
        kinds = set(csv(request.arg("filter[commentable_type]")))
        targets = set(csv(request.arg("filter[commentable_id]")))
        with self._locked():
            rows = sorted(
                (
                    c
                    for c in self._comments.values()
                    if (not kinds or "Application" in kinds)
                    and (not targets or c.application_id in targets)
                ),
                key=lambda c: int(c.id),
            )
            page = page_of(rows, number, size)
            body: Resource = {"data": [comment_json(c) for c in page]}
            body["meta"] = {"stats": {"total": {"count": len(rows)}}} if count else {}
        return json_response(200, body, JSONAPI)

    def _post_comment(self, request: Request) -> Response:
        self._require("applications:write")  # comments are written on applications
        try:
            payload = request.json()
        except ValueError:
            return jsonapi_error(400, "The body is not valid JSON")
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            return jsonapi_error(400, "The body must be a JSON:API document with data")
        attributes = data.get("attributes") or {}
        text = attributes.get("body_text") if isinstance(attributes, dict) else None
        if not isinstance(text, str) or not text.strip():
            return jsonapi_error(422, "Body text can't be blank")
        relationships = data.get("relationships") or {}
        target = (
            (relationships.get("commentable") or {}).get("data")
            if isinstance(relationships, dict)
            else None
        )
        if not isinstance(target, dict) or target.get("type") != "applications":
            return jsonapi_error(422, "Commentable must exist")
        app_id = target.get("id")
        with self._locked():
            # A number is not an id: the recorded answer to 8863807 (a number) was this 422.
            if not isinstance(app_id, str) or app_id not in self._applications:
                return jsonapi_error(422, "Commentable must exist")
            comment = self._comments[self.add_comment(app_id, text)]
            self.audit.comment_added(app_id)
        return json_response(201, {"data": comment_json(comment)}, JSONAPI)

    def _get_file(self, request: Request) -> Response:
        token, filename = request.params["token"], request.params["filename"]
        query = {name: values[0] for name, values in request.query.items() if values}
        with self._lock:
            attachment = self._files.get(token)
        if attachment is None or attachment.filename != filename:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        if "X-Amz-Signature" not in query:
            return s3_error(403, "AccessDenied", "Query-string authentication is required")
        problem = self._signer.check(token, filename, query, self.clock.now())
        if problem is not None:
            return s3_error(403, problem, "The request signature is not valid or has expired")
        return Response(
            200,
            attachment.content,
            {
                "Content-Type": attachment.content_type,
                "Content-Disposition": content_disposition(attachment.filename),
            },
        )
