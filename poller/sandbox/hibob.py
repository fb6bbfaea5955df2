"""The HiBob simulator's HTTP side: exactly the endpoints of shared/api/hibob.md (base /v1).

Settings (`configure()` and POST /_sandbox/config), default first:
- lag_seconds: 0; search misses employees created less than this long ago, and shows an
  employee's fields as they were before an update (start date, name, email) until this long
  after it.
- rate_limits: {"POST /people/search": 50} per minute (the rest unlimited: the documents', and
  the start date, PUT /people/{id} and email endpoints', whose limits are [unknown]); answers of
  a limited endpoint carry X-RateLimit-Limit/-Remaining/-Reset.
- start_date_after_start: "refuse" | "accept"; whether POST /employees/{id}/start-date takes an
  employee whose start date is today or past (simulator clock, UTC). [unknown] upstream; a
  refusal is 400 "employee.start-date.already-started".
- documents_shape: "spec" ({documentName, downloadLink}) | "client" ({doc: {id, name, tags}}).
- forbidden: False | True (every credential gets 403, except on the fields metadata).
- title_list: the default titles (hibob_lists.DEFAULT_TITLES) | a list of names | None (no
  title list: work.title is free text).
- named_list_keys: "both" (items under "values" and "items", as live) | "items" | "values".
- error_shape: "key_error_args" | "key_error" | "goals" | "empty" | "html" (see hibob_errors);
  every error body but 401's, which is always empty.
- upload_answer: "document" | "empty" | "no_id"; the file upload's answer (see hibob_docs).
- fetch_timeout_seconds: 10, for documentUrl; allow_remote_fetch: False (documentUrl must be a
  loopback host, so the sandbox never reaches out).
"""

from __future__ import annotations

import base64
import hmac
import random
from dataclasses import dataclass
from datetime import date
from typing import Any

from . import hibob_docs, hibob_updates
from .audit import Audit
from .clock import SimClock
from .control import bad_request, control_routes, json_object
from .faults import Faults
from .hibob_docs import UPLOAD_ANSWERS
from .hibob_errors import ERROR_SHAPES, HibobRejection, error_response
from .hibob_lists import people_fields
from .hibob_state import START_DATE_MODES, HibobState, lookup
from .ratelimit import RateLimiter
from .records import Employee
from .routing import Request, Response, Route, json_response

DEFAULT_RATE_LIMITS = {"POST /people/search": 50}
SEARCHABLE = ("root.id", "root.email")
NAMED_LIST_KEYS = ("both", "items", "values")
CHOICES = {
    "named_list_keys": NAMED_LIST_KEYS,
    "error_shape": ERROR_SHAPES,
    "upload_answer": UPLOAD_ANSWERS,
    "start_date_after_start": START_DATE_MODES,
}
SETTINGS = {
    "lag_seconds",
    "rate_limits",
    "documents_shape",
    "forbidden",
    "title_list",
    "fetch_timeout_seconds",
    "allow_remote_fetch",
    *CHOICES,
}


class HibobSim(HibobState):
    api = "hibob"
    base_path = "/v1"
    rate_limit_headers = True

    def __init__(self, seed: int = 1, clock: SimClock | None = None, audit: Audit | None = None):
        super().__init__(seed, clock or SimClock())
        secrets = random.Random(f"{seed}:hibob:secrets")
        self.service_user = f"SERVICE-{secrets.randint(10000, 99999)}"
        self._secret = f"{self.service_user}:{secrets.getrandbits(128):032x}"
        self._noperm_secret = f"SERVICE-NOPERM:{secrets.getrandbits(128):032x}"
        self.token = base64.b64encode(self._secret.encode()).decode()
        self.noperm_token = base64.b64encode(self._noperm_secret.encode()).decode()
        self.audit = audit or Audit()
        self.faults = Faults(seed, self.api)
        self.limiter = RateLimiter(DEFAULT_RATE_LIMITS)
        self.origin = "http://127.0.0.1"
        self.fetch_timeout_seconds = 10.0
        self.allow_remote_fetch = False
        self.named_list_keys = "both"
        self.error_shape = "key_error_args"
        self.upload_answer = "document"
        endpoints = frozenset(route.key for route in self.routes() if not route.control)
        self.faults.endpoints = self.limiter.endpoints = endpoints

    def __repr__(self) -> str:
        return f"HibobSim(seed={self.seed}, origin={self.origin!r})"

    # -- settings --

    def bind(self, origin: str) -> None:
        self.origin = origin

    def set_rate_limit(self, endpoint: str, per_minute: int | None) -> None:
        """Limit "METHOD /template" (e.g. "POST /people") per minute; None or 0: unlimited."""
        self.limiter.set_limit(endpoint, per_minute)

    def configure(self, settings: dict[str, Any]) -> None:
        unknown = set(settings) - SETTINGS
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        for name, allowed in CHOICES.items():
            if name in settings and settings[name] not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}")
        if "documents_shape" in settings:
            self.set_documents_shape(settings["documents_shape"])
        if "lag_seconds" in settings:
            self.set_lag(float(settings["lag_seconds"]))
        if "title_list" in settings:
            self.set_title_list(settings["title_list"])
        for endpoint, per_minute in settings.get("rate_limits", {}).items():
            self.limiter.set_limit(endpoint, per_minute)
        if "forbidden" in settings:
            self.forbidden = bool(settings["forbidden"])
        if "fetch_timeout_seconds" in settings:
            self.fetch_timeout_seconds = float(settings["fetch_timeout_seconds"])
        if "allow_remote_fetch" in settings:
            self.allow_remote_fetch = bool(settings["allow_remote_fetch"])
        for name in CHOICES:
            if name in settings:
                setattr(self, name, settings[name])

    def config(self) -> dict[str, Any]:
        titles = self.named_list("title")
        return {
            "lag_seconds": self.lag_seconds,
            "rate_limits": self.limiter.limits(),
            "documents_shape": self.documents_shape,
            "forbidden": self.forbidden,
            "title_list": self.list_values("title") if titles is not None else None,
            "named_list_keys": self.named_list_keys,
            "error_shape": self.error_shape,
            "upload_answer": self.upload_answer,
            "start_date_after_start": self.start_date_after_start,
            "fetch_timeout_seconds": self.fetch_timeout_seconds,
            "allow_remote_fetch": self.allow_remote_fetch,
        }

    # -- server hooks --

    def authenticate(self, request: Request) -> Response | None:
        scheme, _, value = (request.header("Authorization") or "").partition(" ")
        try:
            given = base64.b64decode(value.strip(), validate=True)
        except ValueError:
            given = b""
        if scheme.lower() != "basic" or not given:
            return Response(401)  # HiBob answers bad credentials with an empty body
        # The fields metadata needs no permissions, so only it escapes the 403s.
        exempt = request.path.rstrip("/") == f"{self.base_path}/company/people/fields"
        if hmac.compare_digest(given, self._secret.encode()):
            denied = self.forbidden and not exempt
        elif hmac.compare_digest(given, self._noperm_secret.encode()):
            denied = not exempt
        else:
            return Response(401)
        if denied:
            return self.error(403, "permission.denied", "The service user lacks a permission")
        return None

    def error(self, status: int, key: str, message: str) -> Response:
        """An error body in the configured shape (401's empty body is made in authenticate)."""
        return error_response(self.error_shape, status, key, message, now=self.clock.now())

    def rejected(self, rejection: HibobRejection) -> Response:
        return error_response(
            self.error_shape,
            rejection.status,
            rejection.key,
            rejection.message,
            args=rejection.details,
            now=self.clock.now(),
        )

    @staticmethod
    def json_body(request: Request) -> Any:
        try:
            return request.json()
        except ValueError:
            raise HibobRejection("validations.invalid.body", "The body is not JSON") from None

    def routes(self) -> list[Route]:
        base = self.base_path
        table: list[tuple[str, str, Any]] = [
            ("POST", "/people", self._create),
            ("POST", "/people/search", self._search),
            ("POST", "/employees/{id}/start-date", self._change_start_date),
            ("PUT", "/people/{id}", self._update_person),
            ("PUT", "/people/{id}/email", self._change_email),
            ("POST", "/docs/people/{id}/shared", self._upload_from_url),
            ("POST", "/docs/people/{id}/confidential", self._upload_from_url),
            ("POST", "/docs/people/{id}/shared/upload", self._upload_file),
            ("POST", "/docs/people/{id}/confidential/upload", self._upload_file),
            ("GET", "/docs/people/{id}", self._list_documents),
            ("GET", "/company/named-lists/{name}", self._named_list),
            ("GET", "/company/people/fields", self._fields),
        ]
        return [
            *(Route.build(m, t, h, prefix=base) for m, t, h in table),
            *control_routes(self),
            Route.build("GET", "/_sandbox/docs/{doc_id}", self._download, control=True),
            Route.build("POST", "/_sandbox/employees", self._control_employees, control=True),
            Route.build("GET", "/_sandbox/state", self._control_state, control=True),
        ]

    # -- handlers --

    def _create(self, request: Request) -> Response:
        try:
            employee = self.create(self.json_body(request))
        except HibobRejection as rejection:
            return self.rejected(rejection)
        self.audit.employee_created(employee.email)
        return json_response(
            200,
            {
                "id": employee.id,
                **employee.fields,
                "internal": {"lifecycleStatus": employee.lifecycle},
            },
        )

    def _search(self, request: Request) -> Response:
        try:
            query = _search_query(self.json_body(request))
        except HibobRejection as rejection:
            return self.rejected(rejection)
        found = self.search(query.path, query.values, query.show_inactive)
        rows = [self._search_row(e, query.fields) for e in found]
        return json_response(200, {"employees": rows})

    @staticmethod
    def _search_row(employee: Employee, fields: list[str]) -> dict[str, Any]:
        row: dict[str, Any] = {"id": employee.id, "email": employee.email}
        for path in fields:
            if path == "root.id":
                value: Any = employee.id
            elif path == "internal.lifecycleStatus":
                value = employee.lifecycle
            else:
                value = lookup(employee.fields, path)
            row["/" + path.replace(".", "/")] = {"value": value}
        return row

    def _change_start_date(self, request: Request) -> Response:
        return hibob_updates.change_start_date(self, request)

    def _update_person(self, request: Request) -> Response:
        return hibob_updates.update_person(self, request)

    def _change_email(self, request: Request) -> Response:
        return hibob_updates.change_email(self, request)

    def _upload_from_url(self, request: Request) -> Response:
        return hibob_docs.upload_from_url(self, request)

    def _upload_file(self, request: Request) -> Response:
        return hibob_docs.upload_file(self, request)

    def _list_documents(self, request: Request) -> Response:
        return hibob_docs.list_documents(self, request)

    def _named_list(self, request: Request) -> Response:
        name = request.params["name"]  # case-sensitive, as live
        items = self.named_list(name)
        if items is None:
            return self.error(404, "named-list.not.found", f"No named list '{name}'")
        rows = [i.to_json() for i in items]
        body: dict[str, Any] = {"name": name}
        if self.named_list_keys in ("both", "values"):
            body["values"] = rows
        if self.named_list_keys in ("both", "items"):
            body["items"] = rows
        return json_response(200, body)

    def _fields(self, _: Request) -> Response:
        return json_response(200, people_fields(self.named_list("title") is not None))

    # -- control plane extras --

    def _download(self, request: Request) -> Response:
        document = self.document(request.params["doc_id"])
        if document is None:
            return self.error(404, "document.not.found", "No such document")
        return Response(200, document.content, {"Content-Type": document.content_type})

    def _control_employees(self, request: Request) -> Response:
        """{"employees": [{first, last, email, site?, department?, title?, lifecycle?}]}"""
        specs = json_object(request).get("employees", [])
        try:
            ids = [self.add_employee(**_employee_args(spec)) for spec in specs]
        except (TypeError, ValueError) as exc:
            raise bad_request(f"bad employee: {exc}") from None
        return json_response(200, {"ids": ids})

    def _control_state(self, _: Request) -> Response:
        employees = self.employees.values()
        audit = self.audit.snapshot()
        writes = {kind: audit.changes_per_employee(kind) for kind in ("start_date", "name")}
        invitations = audit.invitations_per_employee()
        return json_response(
            200,
            {
                "employees": [
                    {
                        "id": e.id,
                        "email": e.email,
                        "first_name": e.first_name,
                        "surname": e.surname,
                        "start_date": e.start_date,
                        "lifecycle": e.lifecycle,
                        "site": lookup(e.fields, "work.site"),
                        "department": lookup(e.fields, "work.department"),
                        # Simulation clock; None for staff who existed before the simulation.
                        "created_at": e.created_at.isoformat() if e.created_at else None,
                        "updated_at": e.updated_at.isoformat() if e.updated_at else None,
                        # Applied through the API (audited), lost responses included.
                        "start_date_writes": writes["start_date"].get(e.id, 0),
                        "name_writes": writes["name"].get(e.id, 0),
                        "invitations": invitations.get(e.id, 0),
                    }
                    for e in employees
                ],
                "documents": [
                    {
                        "id": d.id,
                        "employee_id": d.employee_id,
                        "folder": d.folder,
                        "name": d.name,
                        "tags": d.tags,
                        "size": len(d.content),
                        "source": d.source,
                    }
                    for d in self.documents
                ],
            },
        )


def _employee_args(spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise TypeError("each employee must be an object")
    args = dict(spec)
    if isinstance(args.get("start_date"), str):
        args["start_date"] = date.fromisoformat(args["start_date"])
    return args


@dataclass(frozen=True)
class SearchQuery:
    fields: list[str]
    path: str | None
    values: list[str]
    show_inactive: bool


def _search_query(body: Any) -> SearchQuery:
    """Validate a POST /people/search body as hibob.md describes it."""
    if not isinstance(body, dict):
        raise HibobRejection("validations.invalid.body", "The body must be a JSON object")
    fields, filters = body.get("fields", []), body.get("filters", [])
    show_inactive = body.get("showInactive", False)
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise HibobRejection("validations.search.fields", "fields must be a list of paths")
    if not isinstance(filters, list) or len(filters) > 1:
        raise HibobRejection("validations.search.filters", "At most one filter is supported")
    if not isinstance(show_inactive, bool):
        raise HibobRejection("validations.search.showInactive", "showInactive is a boolean")
    if not filters:
        return SearchQuery(fields, None, [], show_inactive)
    flt = filters[0] if isinstance(filters[0], dict) else {}
    path, values = flt.get("fieldPath"), flt.get("values")
    if path not in SEARCHABLE:
        searchable = " and ".join(SEARCHABLE)
        raise HibobRejection("validations.search.filters", f"Filters work on {searchable} only")
    if flt.get("operator") != "equals":
        raise HibobRejection("validations.search.filters", "The operator must be equals")
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise HibobRejection("validations.search.filters", "values must be a non-empty list")
    return SearchQuery(fields, path, values, show_inactive)
