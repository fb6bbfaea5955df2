"""The Pinpoint simulator's HTTP side: exactly the endpoints of shared/api/pinpoint.md.

Settings (`configure()` and POST /_sandbox/config): forbidden (bool: every key gets 403),
rate_limits ({"GET /applications": 60, ...}; Pinpoint sends no rate-limit headers),
updated_at_filter (bool: False makes filter[updated_at] a 400, to exercise the fallback),
url_lifetime_seconds (how long signed CV links stay valid).
"""

from __future__ import annotations

import hmac
import random
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from .audit import Audit
from .clock import SimClock
from .control import bad_request, control_routes, json_object
from .faults import Faults
from .files import Signer
from .pinpoint_state import VISIBILITIES, PinpointState
from .ratelimit import RateLimiter
from .records import Application, Comment, Job, Location, Offer, Stage
from .routing import Reject, Request, Response, Route, json_response

JSONAPI = "application/vnd.api+json"
DEFAULT_VISIBILITY = ("external", "internal", "private_job")  # no confidential unless asked
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
UPDATED_OPS = ("gte", "gt", "lte", "lt")
APPLICATION_FILTERS = {"filter[stage_id]", "filter[job_id]", "filter[job_visibility]"} | {
    f"filter[updated_at][{op}]" for op in UPDATED_OPS
}
SORTS = {"updated_at", "-updated_at", "id", "-id"}

Resource = dict[str, Any]


def ts(moment: datetime) -> str:
    """ISO-8601 with an explicit offset: 2025-02-19T09:25:04+00:00."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _ref(kind: str, ident: str) -> Resource:
    return {"data": {"type": kind, "id": ident}}


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _parse_time(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace(" ", "+"))  # a '+' may arrive unescaped
    except ValueError:
        raise Reject(_jsonapi_error(400, f"{name} is not an ISO-8601 time")) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _jsonapi_error(status: int, detail: str, title: str | None = None) -> Response:
    error = {"status": str(status), "title": title or HTTPStatus(status).phrase, "detail": detail}
    return json_response(status, {"errors": [error]}, JSONAPI)


def _s3_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return Response(status, body.encode(), {"Content-Type": "application/xml"})


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
        self.updated_at_filter = True
        self.url_lifetime_seconds = 300
        endpoints = frozenset(route.key for route in self.routes() if not route.control)
        self.faults.endpoints = self.limiter.endpoints = endpoints

    def __repr__(self) -> str:
        return f"PinpointSim(seed={self.seed}, origin={self.origin!r})"

    # -- settings --

    def bind(self, origin: str) -> None:
        self.origin = origin

    def set_forbidden(self, forbidden: bool) -> None:
        self.forbidden = forbidden

    def set_rate_limit(self, endpoint: str, per_minute: int | None) -> None:
        self.limiter.set_limit(endpoint, per_minute)

    def set_updated_at_filter(self, supported: bool) -> None:
        self.updated_at_filter = supported

    def configure(self, settings: dict[str, Any]) -> None:
        unknown = set(settings) - {
            "forbidden",
            "rate_limits",
            "updated_at_filter",
            "url_lifetime_seconds",
        }
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        for endpoint, per_minute in settings.get("rate_limits", {}).items():
            self.limiter.set_limit(endpoint, per_minute)
        if "forbidden" in settings:
            self.forbidden = bool(settings["forbidden"])
        if "updated_at_filter" in settings:
            self.updated_at_filter = bool(settings["updated_at_filter"])
        if "url_lifetime_seconds" in settings:
            self.url_lifetime_seconds = int(settings["url_lifetime_seconds"])

    def config(self) -> dict[str, Any]:
        return {
            "forbidden": self.forbidden,
            "rate_limits": self.limiter.limits(),
            "updated_at_filter": self.updated_at_filter,
            "url_lifetime_seconds": self.url_lifetime_seconds,
        }

    # -- server hooks --

    def authenticate(self, request: Request) -> Response | None:
        key = request.header("X-API-KEY") or ""
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return _jsonapi_error(401, "Missing or invalid API key")
        if self.forbidden:
            return _jsonapi_error(403, "Integration not enabled")
        return None

    def error(self, status: int, key: str, message: str) -> Response:
        return _jsonapi_error(status, message)

    def routes(self) -> list[Route]:
        base = self.base_path
        return [
            Route.build("GET", "/jobs", self._list_jobs, prefix=base),
            Route.build("GET", "/applications", self._list_applications, prefix=base),
            Route.build("GET", "/applications/{id}", self._get_application, prefix=base),
            Route.build("POST", "/comments", self._post_comment, prefix=base),
            Route.build("GET", "/files/{token}/{filename}", self._get_file, auth=False),
            *control_routes(self),
            Route.build("POST", "/_sandbox/hires", self._control_hires, control=True),
            Route.build("POST", "/_sandbox/move", self._control_move, control=True),
            Route.build("GET", "/_sandbox/state", self._control_state, control=True),
        ]

    # -- JSON:API resources (call with the lock held) --

    def _job_json(self, job: Job, with_stages: bool = False) -> Resource:
        relationships: Resource = {"location": _ref("locations", job.location_id)}
        if with_stages:
            relationships["stages"] = {"data": [{"type": "stages", "id": s} for s in job.stage_ids]}
        return {
            "id": job.id,
            "type": "jobs",
            "attributes": {
                "title": job.title,
                "department": {"name": job.department},
                "visibility": job.visibility,
                "status": "open",
                "created_at": ts(job.created_at),
                "updated_at": ts(job.updated_at),
            },
            "relationships": relationships,
        }

    @staticmethod
    def _stage_json(stage: Stage) -> Resource:
        return {
            "id": stage.id,
            "type": "stages",
            "attributes": {"name": stage.name},
            "relationships": {"job": _ref("jobs", stage.job_id)},
        }

    @staticmethod
    def _location_json(location: Location) -> Resource:
        return {"id": location.id, "type": "locations", "attributes": {"name": location.name}}

    @staticmethod
    def _offer_json(offer: Offer) -> Resource:
        attributes = {"start_date": offer.start_date.isoformat(), "status": "accepted"}
        return {"id": offer.id, "type": "offers", "attributes": attributes}

    def _application_json(self, app: Application, attachments: bool) -> Resource:
        attributes: Resource = {
            "first_name": app.first_name,
            "last_name": app.last_name,
            "email": app.email,
            "phone": app.phone,
            "created_at": ts(app.created_at),
            "updated_at": ts(app.updated_at),
        }
        if attachments:
            now = self.clock.now()
            attributes["attachments"] = [
                {
                    "context": a.context,
                    "filename": a.filename,
                    "url": f"{self.origin}/files/{a.token}/{quote(a.filename)}?"
                    + self._signer.query(a.token, a.filename, now, self.url_lifetime_seconds),
                }
                for a in app.attachments
            ]
        return {
            "id": app.id,
            "type": "applications",
            "attributes": attributes,
            "relationships": {
                "job": _ref("jobs", app.job_id),
                "stage": _ref("stages", app.stage_id),
                "offers": {"data": [{"type": "offers", "id": o.id} for o in app.offers]},
            },
        }

    def _included(self, apps: list[Application], includes: set[str]) -> list[Resource]:
        seen: dict[tuple[str, str], Resource] = {}

        def add(resource: Resource) -> None:
            seen.setdefault((resource["type"], resource["id"]), resource)

        for app in apps:
            if "stage" in includes:
                add(self._stage_json(self._stages[app.stage_id]))
            if "job" in includes:
                job = self._jobs[app.job_id]
                add(self._job_json(job))
                add(self._location_json(self._locations[job.location_id]))
            if "offers" in includes:
                for offer in app.offers:
                    add(self._offer_json(offer))
        return list(seen.values())

    # -- request parsing --

    @staticmethod
    def _paging(request: Request) -> tuple[int, int]:
        try:
            number = int(request.arg("page[number]") or 1)
            size = int(request.arg("page[size]") or DEFAULT_PAGE_SIZE)
        except ValueError:
            raise Reject(
                _jsonapi_error(400, "page[number] and page[size] must be integers")
            ) from None
        if number < 1:
            raise Reject(_jsonapi_error(400, "page[number] must be at least 1"))
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise Reject(_jsonapi_error(400, f"page[size] must be between 1 and {MAX_PAGE_SIZE}"))
        return number, size

    @staticmethod
    def _includes(request: Request, allowed: set[str]) -> set[str]:
        includes = set(_csv(request.arg("include")))
        if includes - allowed:
            bad = ", ".join(sorted(includes - allowed))
            raise Reject(_jsonapi_error(400, f"include not allowed: {bad}"))
        return includes

    @staticmethod
    def _stats(request: Request) -> bool:
        stats = request.arg("stats[total]")
        if stats not in (None, "count"):
            raise Reject(_jsonapi_error(400, "stats[total] supports only count"))
        return stats == "count"

    @staticmethod
    def _wants_attachments(request: Request) -> bool:
        # Only the scoped form counts; a bare extra_fields=attachments is ignored, as upstream.
        return "attachments" in _csv(request.arg("extra_fields[applications]"))

    # -- handlers --

    def _list_jobs(self, request: Request) -> Response:
        number, size = self._paging(request)
        includes = self._includes(request, {"stages"})
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: int(j.id))
            page = jobs[(number - 1) * size : number * size]
            body: Resource = {"data": [self._job_json(j, with_stages=True) for j in page]}
            if includes:
                body["included"] = [
                    self._stage_json(self._stages[s]) for j in page for s in j.stage_ids
                ]
            body["meta"] = (
                {"stats": {"total": {"count": len(jobs)}}} if self._stats(request) else {}
            )
        return json_response(200, body, JSONAPI)

    def _application_filter(self, request: Request) -> Any:
        unknown = [k for k in request.query if k.startswith("filter[")]
        unknown = [k for k in unknown if k not in APPLICATION_FILTERS]
        if unknown:
            raise Reject(_jsonapi_error(400, f"Unknown filter: {', '.join(sorted(unknown))}"))
        bounds = {op: request.arg(f"filter[updated_at][{op}]") for op in UPDATED_OPS}
        bounds_set = {
            op: _parse_time(f"filter[updated_at][{op}]", v)
            for op, v in bounds.items()
            if v is not None
        }
        if bounds_set and not self.updated_at_filter:
            raise Reject(_jsonapi_error(400, "Unknown filter: updated_at"))
        stages = set(_csv(request.arg("filter[stage_id]")))
        jobs = set(_csv(request.arg("filter[job_id]")))
        visibility = set(_csv(request.arg("filter[job_visibility]")) or DEFAULT_VISIBILITY)
        if visibility - set(VISIBILITIES):
            raise Reject(_jsonapi_error(400, "filter[job_visibility] has an unknown value"))

        def keep(app: Application) -> bool:
            t = app.updated_at
            return (
                (not stages or app.stage_id in stages)
                and (not jobs or app.job_id in jobs)
                and self._jobs[app.job_id].visibility in visibility
                and ("gte" not in bounds_set or t >= bounds_set["gte"])
                and ("gt" not in bounds_set or t > bounds_set["gt"])
                and ("lte" not in bounds_set or t <= bounds_set["lte"])
                and ("lt" not in bounds_set or t < bounds_set["lt"])
            )

        return keep

    def _list_applications(self, request: Request) -> Response:
        number, size = self._paging(request)
        includes = self._includes(request, {"stage", "job"})
        stats = self._stats(request)
        sort = request.arg("sort")
        if sort is not None and sort not in SORTS:
            raise Reject(_jsonapi_error(400, f"sort must be one of {', '.join(sorted(SORTS))}"))
        keep = self._application_filter(request)
        attachments = self._wants_attachments(request)
        with self._lock:
            rows = [a for a in self._applications.values() if keep(a)]
            if sort and sort.lstrip("-") == "updated_at":
                rows.sort(key=lambda a: (a.updated_at, int(a.id)), reverse=sort.startswith("-"))
            else:
                rows.sort(key=lambda a: int(a.id), reverse=sort == "-id")
            page = rows[(number - 1) * size : number * size]
            body: Resource = {"data": [self._application_json(a, attachments) for a in page]}
            if includes:
                body["included"] = self._included(page, includes)
            body["meta"] = {"stats": {"total": {"count": len(rows)}}} if stats else {}
        return json_response(200, body, JSONAPI)

    def _get_application(self, request: Request) -> Response:
        includes = self._includes(request, {"job", "offers", "stage"})
        attachments = self._wants_attachments(request)
        with self._lock:
            app = self._applications.get(request.params["id"])
            if app is None:
                return _jsonapi_error(404, "Application not found")
            body: Resource = {"data": self._application_json(app, attachments)}
            if includes:
                body["included"] = self._included([app], includes)
        return json_response(200, body, JSONAPI)

    def _post_comment(self, request: Request) -> Response:
        try:
            payload = request.json()
        except ValueError:
            return _jsonapi_error(400, "The body is not valid JSON")
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            return _jsonapi_error(400, "The body must be a JSON:API document with data")
        attributes = data.get("attributes") or {}
        text = attributes.get("body_text") if isinstance(attributes, dict) else None
        if not isinstance(text, str) or not text.strip():
            return _jsonapi_error(422, "body_text can't be blank")
        relationships = data.get("relationships") or {}
        target = (
            (relationships.get("commentable") or {}).get("data")
            if isinstance(relationships, dict)
            else None
        )
        if not isinstance(target, dict) or target.get("type") != "applications":
            return _jsonapi_error(422, "commentable must be an application")
        app_id = str(target.get("id"))
        with self._lock:
            if app_id not in self._applications:
                return _jsonapi_error(422, f"commentable application {app_id} does not exist")
            comment = Comment(self._ids.next("comment"), app_id, text, self.clock.now())
            self._comments[comment.id] = comment
            self.audit.comment_added(app_id)
        return json_response(
            201,
            {
                "data": {
                    "id": comment.id,
                    "type": "comments",
                    "attributes": {
                        "body_text": comment.body_text,
                        "created_at": ts(comment.created_at),
                    },
                    "relationships": {"commentable": _ref("applications", app_id)},
                }
            },
            JSONAPI,
        )

    def _get_file(self, request: Request) -> Response:
        token, filename = request.params["token"], request.params["filename"]
        query = {name: values[0] for name, values in request.query.items() if values}
        with self._lock:
            attachment = self._files.get(token)
        if attachment is None or attachment.filename != filename:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        if "X-Amz-Signature" not in query:
            return _s3_error(403, "AccessDenied", "Query-string authentication is required")
        problem = self._signer.check(token, filename, query, self.clock.now())
        if problem is not None:
            return _s3_error(403, problem, "The request signature is not valid or has expired")
        return Response(
            200,
            attachment.content,
            {
                "Content-Type": attachment.content_type,
                "Content-Disposition": content_disposition(attachment.filename),
            },
        )

    # -- control plane extras --

    def _control_hires(self, request: Request) -> Response:
        """{"count": N, "confidential": false} or {"hires": [{add_hire arguments}]}."""
        body = json_object(request)
        try:
            if "hires" in body:
                ids = [self.add_hire(**_hire_args(spec)) for spec in body["hires"]]
            else:
                ids = self.seed_hires(int(body.get("count", 1)), bool(body.get("confidential")))
        except (TypeError, ValueError, KeyError) as exc:
            raise bad_request(f"bad hire: {exc}") from None
        return json_response(200, {"ids": ids})

    def _control_move(self, request: Request) -> Response:
        """{"application_id": "...", "stage": "hired" | name | id, "updated_at": ISO?}"""
        body = json_object(request)
        try:
            updated = body.get("updated_at")
            self.move_application(
                str(body["application_id"]),
                str(body.get("stage", "hired")),
                datetime.fromisoformat(updated) if updated else None,
            )
        except (TypeError, ValueError, KeyError) as exc:
            raise bad_request(f"bad move: {exc}") from None
        return json_response(200, {"ok": True})

    def _control_state(self, _: Request) -> Response:
        with self._lock:
            return json_response(
                200,
                {
                    "hired_application_ids": self.hired_application_ids(),
                    "applications": len(self._applications),
                    "jobs": [
                        {
                            "id": j.id,
                            "title": j.title,
                            "visibility": j.visibility,
                            "hired_stage_id": self.hired_stage_id(j.id),
                        }
                        for j in self._jobs.values()
                    ],
                    "comments": [
                        {"id": c.id, "application_id": c.application_id, "body_text": c.body_text}
                        for c in self._comments.values()
                    ],
                },
            )


def _hire_args(spec: Any) -> dict[str, Any]:
    """add_hire keyword arguments from JSON, with ISO strings turned into dates and times."""
    if not isinstance(spec, dict):
        raise TypeError("each hire must be an object")
    args = dict(spec)
    args.setdefault("email", None)
    if isinstance(args.get("updated_at"), str):
        args["updated_at"] = datetime.fromisoformat(args["updated_at"])
    if isinstance(args.get("start_date"), str):
        args["start_date"] = datetime.fromisoformat(args["start_date"]).date()
    return args


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII ``filename`` for old clients and the exact name as ``filename*``.

    HTTP headers are Latin-1 on the wire: a name like "zoë_łukasz.pdf" sent as it is made the
    server drop the connection instead of answering.
    """
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
