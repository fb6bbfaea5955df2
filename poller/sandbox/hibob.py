"""The HiBob simulator's HTTP side: exactly the endpoints of shared/api/hibob.md (base /v1).

Settings (`configure()` and POST /_sandbox/config): lag_seconds, rate_limits
({"POST /people/search": 50, "POST /people": 10, ...}; search is limited to 50/min by default,
the rest unlimited), documents_shape ("spec" | "client"), forbidden (bool), title_list (list or
null), fetch_timeout_seconds (for documentUrl), allow_remote_fetch (default false: documentUrl
must be a loopback host, so the sandbox never reaches out).
"""

from __future__ import annotations

import base64
import hmac
import http.client
import random
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

from . import multipart
from .audit import Audit
from .clock import SimClock
from .control import bad_request, control_routes, json_object
from .faults import Faults
from .hibob_state import DOCUMENT_LIMIT_BYTES, HibobRejection, HibobState, lookup
from .ratelimit import RateLimiter
from .records import Document, Employee
from .routing import Reject, Request, Response, Route, json_response

DEFAULT_RATE_LIMITS = {"POST /people/search": 50}
SEARCHABLE = ("root.id", "root.email")
FIELDS = [  # GET /company/people/fields: a small, representative list
    {"id": "root.id", "name": "Id", "category": "root", "jsonPath": "root.id", "type": "text"},
    {
        "id": "firstName",
        "name": "First name",
        "category": "root",
        "jsonPath": "root.firstName",
        "type": "text",
    },
    {
        "id": "surname",
        "name": "Last name",
        "category": "root",
        "jsonPath": "root.surname",
        "type": "text",
    },
    {"id": "email", "name": "Email", "category": "root", "jsonPath": "root.email", "type": "text"},
    {
        "id": "work.site",
        "name": "Site",
        "category": "work",
        "jsonPath": "work.site",
        "type": "list",
        "typeData": {"listId": "site"},
    },
    {
        "id": "work.department",
        "name": "Department",
        "category": "work",
        "jsonPath": "work.department",
        "type": "list",
        "typeData": {"listId": "department"},
    },
    {
        "id": "work.title",
        "name": "Job title",
        "category": "work",
        "jsonPath": "work.title",
        "type": "text",
    },
    {
        "id": "work.startDate",
        "name": "Start date",
        "category": "work",
        "jsonPath": "work.startDate",
        "type": "date",
    },
    {
        "id": "internal.lifecycleStatus",
        "name": "Lifecycle status",
        "category": "internal",
        "jsonPath": "internal.lifecycleStatus",
        "type": "text",
    },
]


def _error(status: int, key: str, message: str) -> Response:
    return json_response(status, {"key": key, "error": message})


def _rejected(rejection: HibobRejection) -> Response:
    return _error(rejection.status, rejection.key, rejection.message)


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


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
        known = {
            "lag_seconds",
            "rate_limits",
            "documents_shape",
            "forbidden",
            "title_list",
            "fetch_timeout_seconds",
            "allow_remote_fetch",
        }
        if set(settings) - known:
            raise ValueError(f"unknown settings: {', '.join(sorted(set(settings) - known))}")
        if "documents_shape" in settings:
            self.set_documents_shape(settings["documents_shape"])
        if "lag_seconds" in settings:
            self.set_lag(float(settings["lag_seconds"]))
        for endpoint, per_minute in settings.get("rate_limits", {}).items():
            self.limiter.set_limit(endpoint, per_minute)
        if "forbidden" in settings:
            self.forbidden = bool(settings["forbidden"])
        if "title_list" in settings:
            self.set_title_list(settings["title_list"])
        if "fetch_timeout_seconds" in settings:
            self.fetch_timeout_seconds = float(settings["fetch_timeout_seconds"])
        if "allow_remote_fetch" in settings:
            self.allow_remote_fetch = bool(settings["allow_remote_fetch"])

    def config(self) -> dict[str, Any]:
        titles = self.named_list("title")
        return {
            "lag_seconds": self.lag_seconds,
            "rate_limits": self.limiter.limits(),
            "documents_shape": self.documents_shape,
            "forbidden": self.forbidden,
            "title_list": [t.name for t in titles] if titles is not None else None,
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
            return _error(403, "permission.denied", "The service user lacks a permission")
        return None

    def error(self, status: int, key: str, message: str) -> Response:
        return _error(status, key, message)

    def routes(self) -> list[Route]:
        base = self.base_path
        table: list[tuple[str, str, Any]] = [
            ("POST", "/people", self._create),
            ("POST", "/people/search", self._search),
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

    @staticmethod
    def _body(request: Request) -> Any:
        try:
            return request.json()
        except ValueError:
            raise Reject(_error(400, "validations.invalid.body", "The body is not JSON")) from None

    def _create(self, request: Request) -> Response:
        try:
            employee = self.create(self._body(request))
        except HibobRejection as rejection:
            return _rejected(rejection)
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
            query = _search_query(self._body(request))
        except HibobRejection as rejection:
            return _rejected(rejection)
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

    @staticmethod
    def _folder(request: Request) -> str:
        return "confidential" if "/confidential" in request.path else "shared"

    def _upload_from_url(self, request: Request) -> Response:
        employee_id = request.params["id"]
        try:
            self.require_employee(employee_id)
            body = self._body(request)
            if not isinstance(body, dict):
                raise HibobRejection("validations.invalid.body", "The body must be a JSON object")
            name, url, tags = (
                body.get("documentName"),
                body.get("documentUrl"),
                body.get("tags", []),
            )
            for field, value in (("documentName", name), ("documentUrl", url)):
                if not isinstance(value, str) or not value.strip():
                    raise HibobRejection("validations.required", f"Field '{field}' is required")
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise HibobRejection("validations.invalid.tags", "tags must be a list of strings")
            content, content_type = self._fetch(str(url))
            document = self.add_document(
                employee_id,
                folder=self._folder(request),
                name=str(name),
                tags=tags,
                content=content,
                content_type=content_type,
                source="url",
            )
        except HibobRejection as rejection:
            return _rejected(rejection)
        return self._stored(document)

    def _fetch(self, url: str) -> tuple[bytes, str]:
        """Download documentUrl, as HiBob does. Messages never repeat the URL: it is signed."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HibobRejection("document.url.invalid", "documentUrl must be an http(s) URL")
        if not self.allow_remote_fetch and not _is_loopback_host(parts.hostname):
            raise HibobRejection(
                "document.url.notallowed", "The sandbox fetches loopback URLs only"
            )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
        try:
            # The scheme is checked above, so S310's file:// concern doesn't apply.
            with opener.open(url, timeout=self.fetch_timeout_seconds) as answer:
                content = answer.read(DOCUMENT_LIMIT_BYTES + 1)
                content_type = answer.headers.get_content_type()
        except urllib.error.HTTPError as exc:
            raise HibobRejection(
                "document.download.failed", f"Could not download the document: HTTP {exc.code}"
            ) from None
        except (OSError, ValueError, http.client.HTTPException):
            raise HibobRejection(
                "document.download.failed", "Could not download the document: no usable answer"
            ) from None
        if len(content) > DOCUMENT_LIMIT_BYTES:
            raise HibobRejection("validations.document.too.large", "A document is at most 5 MB")
        return content, content_type

    def _upload_file(self, request: Request) -> Response:
        employee_id = request.params["id"]
        try:
            self.require_employee(employee_id)
            boundary = multipart.boundary_of(request.header("Content-Type"))
            if boundary is None:
                raise HibobRejection("validations.invalid.body", "Send multipart/form-data")
            try:
                parts = multipart.parse(request.body, boundary)
            except ValueError as exc:
                raise HibobRejection("validations.invalid.body", str(exc)) from None
            part = next((p for p in parts if p.name == "file"), None)
            if part is None:
                raise HibobRejection("validations.required", "Part 'file' is required")
            document = self.add_document(
                employee_id,
                folder=self._folder(request),
                name=part.filename or "document",
                tags=[],
                content=part.data,
                content_type=part.content_type,
                source="upload",
            )
        except HibobRejection as rejection:
            return _rejected(rejection)
        return self._stored(document)

    def _stored(self, document: Document) -> Response:
        self.audit.document_added(document.employee_id)
        return json_response(
            200,
            {
                "id": document.id,
                "documentName": document.name,
                "folder": document.folder,
                "tags": document.tags,
            },
        )

    def _list_documents(self, request: Request) -> Response:
        employee_id = request.params["id"]
        try:
            self.require_employee(employee_id)
        except HibobRejection as rejection:
            return _rejected(rejection)
        documents = self.documents_of(employee_id)
        rows: list[dict[str, Any]]
        if self.documents_shape == "client":
            rows = [{"doc": {"id": str(d.id), "name": d.name, "tags": d.tags}} for d in documents]
        else:
            rows = [
                {"documentName": d.name, "downloadLink": f"{self.origin}/_sandbox/docs/{d.id}"}
                for d in documents
            ]
        return json_response(200, {"documents": rows})

    def _named_list(self, request: Request) -> Response:
        name = request.params["name"]
        items = self.named_list(name)
        if items is None:
            return _error(404, "named-list.not.found", f"No named list '{name}'")
        return json_response(200, {"name": name, "items": [i.to_json() for i in items]})

    def _fields(self, _: Request) -> Response:
        return json_response(200, FIELDS)

    # -- control plane extras --

    def _download(self, request: Request) -> Response:
        try:
            document = self.document(int(request.params["doc_id"]))
        except ValueError:
            document = None
        if document is None:
            return _error(404, "document.not.found", "No such document")
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
        return json_response(
            200,
            {
                "employees": [
                    {
                        "id": e.id,
                        "email": e.email,
                        "lifecycle": e.lifecycle,
                        "site": lookup(e.fields, "work.site"),
                        "department": lookup(e.fields, "work.department"),
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
